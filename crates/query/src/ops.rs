//! The one operator table of the query language: client filters
//! (`filter[field.op]`, semantics.md §2.1) and permission conditions (§14)
//! both resolve names here.

use rocket_store::sql::Op;

/// Where a name may be used.
#[derive(PartialEq)]
enum Scope {
    FiltersAndConditions,
    /// §14 gives permission conditions no row semantics for it.
    FiltersOnly,
}
use Scope::*;

const OPERATORS: [(&str, Op, Scope); 9] = [
    ("eq", Op::Eq, FiltersAndConditions),
    ("neq", Op::Neq, FiltersAndConditions),
    ("gt", Op::Gt, FiltersAndConditions),
    ("gte", Op::Gte, FiltersAndConditions),
    ("lt", Op::Lt, FiltersAndConditions),
    ("lte", Op::Lte, FiltersAndConditions),
    ("in", Op::In, FiltersAndConditions),
    ("not_in", Op::NotIn, FiltersAndConditions),
    ("like", Op::Like, FiltersOnly),
];

/// The operator of a client filter (`eq` when the key names none).
pub fn filter_op(name: &str) -> Option<Op> {
    OPERATORS.iter().find(|o| o.0 == name).map(|o| o.1)
}

/// The operator of a permission condition; None for a name conditions do
/// not accept (such a condition never holds).
pub fn condition_op(name: &str) -> Option<Op> {
    conditions().find(|o| o.0 == name).map(|o| o.1)
}

/// Names accepted in permission conditions, in table order (for messages).
pub fn condition_op_names() -> impl Iterator<Item = &'static str> {
    conditions().map(|o| o.0)
}

fn conditions() -> impl Iterator<Item = &'static (&'static str, Op, Scope)> {
    OPERATORS.iter().filter(|o| o.2 == FiltersAndConditions)
}

/// The query-language name of an operator.
pub fn op_name(op: Op) -> &'static str {
    OPERATORS.iter().find(|o| o.1 == op).map_or("", |o| o.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_operators_round_trip() {
        for (name, op, _) in &OPERATORS {
            assert_eq!(filter_op(name), Some(*op));
            assert_eq!(op_name(*op), *name);
        }
        assert_eq!(filter_op("EQ"), None);
        assert_eq!(filter_op(""), None);
    }

    #[test]
    fn conditions_take_all_but_like() {
        assert_eq!(condition_op("not_in"), Some(Op::NotIn));
        assert_eq!(condition_op("like"), None);
        assert_eq!(filter_op("like"), Some(Op::Like));
        let names: Vec<_> = condition_op_names().collect();
        assert_eq!(names, ["eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in"]);
    }
}
