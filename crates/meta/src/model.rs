//! Metadata documents as the admin API and import accept them (metadata.md).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

fn is_false(b: &bool) -> bool {
    !*b
}

/// Accepts enum members of any scalar JSON type; they compare as strings.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(v.map(|items| {
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect()
    }))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PrimaryKey {
    #[serde(default)]
    pub field: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub generated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlugConfig {
    #[serde(default)]
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub regenerate_on_update: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FieldDef {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub indexed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub nullable: bool,
    #[serde(
        rename = "enum",
        default,
        deserialize_with = "string_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub enum_values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EntityDef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub table: String,
    #[serde(default)]
    pub primary_key: PrimaryKey,
    #[serde(default)]
    pub soft_delete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<SlugConfig>,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RelationDef {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub join_table: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_join_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_join_key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ownership: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_delete: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fetch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub write_mode: String,
}

/// Parses a definition that may arrive as an object or as a JSON-encoded string.
pub fn parse_def<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
    match v {
        Value::String(s) => serde_json::from_str(s).map_err(|e| e.to_string()),
        other => serde_json::from_value(other.clone()).map_err(|e| e.to_string()),
    }
}
