//! SQLite: lists bind as JSON text read back with `json_each`; LIKE works on
//! any column as is (its values are stored as text or numbers).

use super::Syntax;

pub(super) const SYNTAX: Syntax = Syntax {
    in_list: (" IN (SELECT value FROM json_each(", "))"),
    not_in_list: (" NOT IN (SELECT value FROM json_each(", "))"),
    like_casts: false,
};

/// What the shared renderer tests (`sql/tests.rs`) expect on SQLite.
#[cfg(test)]
pub(super) mod expected {
    pub const LIST_WHERE: &str = "\"name\" = $1 AND \"age\" != $2 AND \"age\" > $3 AND \"age\" >= $4 \
        AND \"age\" < $5 AND \"age\" <= $6 AND \"age\" IN (SELECT value FROM json_each($7)) \
        AND \"age\" NOT IN (SELECT value FROM json_each($8)) AND \"name\" LIKE $9 \
        AND \"age\" LIKE $10 AND \"deleted_at\" IS NULL";
    pub const INCLUDE_BY_COLUMN: &str = "SELECT \"id\", \"name\", \"age\", \"deleted_at\" FROM \"people\" \
        WHERE \"team_id\" IN (SELECT value FROM json_each($1)) AND \"deleted_at\" IS NULL";
    pub const INCLUDE_THROUGH_JOIN: &str = "SELECT j.\"tag_id\", r.\"id\", r.\"name\", r.\"age\", \
        r.\"deleted_at\" FROM \"person_tags\" j JOIN \"people\" r ON r.\"id\" = j.\"person_id\" \
        WHERE j.\"tag_id\" IN (SELECT value FROM json_each($1)) AND ((r.\"age\" > $2) OR (FALSE)) \
        AND r.\"deleted_at\" IS NULL";
}
