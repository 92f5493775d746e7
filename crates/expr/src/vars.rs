//! Where an expression's variables come from. Implementations hand out
//! borrowed JSON; nothing is copied per evaluation.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde_json::{Map, Value as Json};

/// The variables visible to an expression (`record`, `old`, `action`, …).
/// A name the implementation does not know evaluates to null.
pub trait Vars {
    fn get(&self, name: &str) -> Option<&Json>;
}

impl Vars for Map<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        Map::get(self, name)
    }
}

/// A JSON object's members; any other JSON value has no variables.
impl Vars for Json {
    fn get(&self, name: &str) -> Option<&Json> {
        self.as_object().and_then(|m| m.get(name))
    }
}

impl<S: BuildHasher> Vars for HashMap<String, Json, S> {
    fn get(&self, name: &str) -> Option<&Json> {
        HashMap::get(self, name)
    }
}

impl Vars for BTreeMap<String, Json> {
    fn get(&self, name: &str) -> Option<&Json> {
        BTreeMap::get(self, name)
    }
}

impl Vars for [(&str, &Json)] {
    fn get(&self, name: &str) -> Option<&Json> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> Vars for [(&str, &Json); N] {
    fn get(&self, name: &str) -> Option<&Json> {
        Vars::get(&self[..], name)
    }
}

impl<T: Vars + ?Sized> Vars for &T {
    fn get(&self, name: &str) -> Option<&Json> {
        (**self).get(name)
    }
}

/// Variables as borrowed name/value pairs, so a caller can evaluate against
/// values it already holds without building a map:
///
/// ```
/// use rocket_expr::{Expr, VarsSlice};
/// use serde_json::json;
///
/// let record = json!({"amount": 20000, "status": "approved"});
/// let action = json!("update");
/// let e = Expr::compile("action == 'update' && record.amount > 10000").unwrap();
/// assert!(e.eval_bool(&VarsSlice(&[("record", &record), ("action", &action)])).unwrap());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct VarsSlice<'a>(pub &'a [(&'a str, &'a Json)]);

impl Vars for VarsSlice<'_> {
    fn get(&self, name: &str) -> Option<&Json> {
        Vars::get(self.0, name)
    }
}
