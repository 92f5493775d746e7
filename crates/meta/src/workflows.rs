//! Workflows compiled into the snapshot (metadata.md §6): steps indexed by
//! id, gotos, conditions and timeouts parsed once, ready for the runtime.

use std::collections::HashMap;
use std::time::Duration;

use rocket_expr::Expr;
use serde_json::Value as Json;

use crate::actions::Action;

/// Where a step goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goto {
    Step(String),
    /// `"end"` or `{"goto": "end"}`.
    End,
    /// No goto given (ends the instance, except an absent `on_timeout`,
    /// which fails it).
    Absent,
}

impl Goto {
    fn parse(v: Option<&Json>) -> Goto {
        let target = match v {
            Some(Json::String(s)) => Some(s.as_str()),
            Some(Json::Object(o)) => o.get("goto").and_then(Json::as_str),
            _ => None,
        };
        match target {
            None => Goto::Absent,
            Some("end") => Goto::End,
            Some(s) => Goto::Step(s.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    Role(String),
    /// A dot path into the instance naming the user.
    Relation(String),
    Fixed(String),
}

#[derive(Debug)]
pub enum StepKind {
    Action {
        actions: Vec<Action>,
        then: Goto,
    },
    /// A stored expression that no longer compiles fails the instance when reached.
    Condition {
        expr: Result<Expr, String>,
        on_true: Goto,
        on_false: Goto,
    },
    Approval {
        assignee: Option<Assignee>,
        timeout: Option<Duration>,
        on_approve: Goto,
        on_reject: Goto,
        on_timeout: Goto,
    },
    /// Unknown step type: the instance fails when it reaches it ([Rec]).
    Unknown(String),
}

#[derive(Debug)]
pub struct Step {
    pub id: String,
    pub kind: StepKind,
}

#[derive(Debug)]
pub struct Trigger {
    pub entity: String,
    pub field: String,
    pub to: String,
}

#[derive(Debug)]
pub struct Workflow {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    /// Context key → dot path into `{trigger: {record_id, record}, record, record_id}`.
    pub context: Vec<(String, String)>,
    pub steps: Vec<Step>,
    index: HashMap<String, usize>,
}

impl Workflow {
    pub fn first(&self) -> Option<&Step> {
        self.steps.first()
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.steps[i])
    }
}

/// `72h`, `1h30m`, `90s`, `500ms`; `d` for days ([Rec]). None when unparsable.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "d" => 86_400.0,
            "h" => 3_600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(n * secs).ok()?;
    }
    Some(total)
}

fn assignee(v: Option<&Json>) -> Option<Assignee> {
    let v = v?;
    let s = |k: &str| v.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    match v.get("type").and_then(Json::as_str)? {
        "role" => Some(Assignee::Role(s("role"))),
        "relation" => Some(Assignee::Relation(s("path"))),
        "fixed" => Some(Assignee::Fixed(s("user"))),
        _ => None,
    }
}

fn compile_step(s: &Json) -> Step {
    let id = s.get("id").and_then(Json::as_str).unwrap_or("").to_string();
    let kind = match s.get("type").and_then(Json::as_str).unwrap_or("") {
        "action" => StepKind::Action {
            actions: Action::compile_list(s.get("actions")),
            then: Goto::parse(s.get("then")),
        },
        "condition" => StepKind::Condition {
            expr: Expr::compile(s.get("expression").and_then(Json::as_str).unwrap_or(""))
                .map_err(|e| e.to_string()),
            on_true: Goto::parse(s.get("on_true")),
            on_false: Goto::parse(s.get("on_false")),
        },
        "approval" => StepKind::Approval {
            assignee: assignee(s.get("assignee")),
            timeout: s.get("timeout").and_then(Json::as_str).and_then(parse_duration),
            on_approve: Goto::parse(s.get("on_approve")),
            on_reject: Goto::parse(s.get("on_reject")),
            on_timeout: Goto::parse(s.get("on_timeout")),
        },
        other => StepKind::Unknown(other.to_string()),
    };
    Step { id, kind }
}

/// Compiles one stored workflow; None (logged) when its trigger is unusable.
pub fn compile_workflow(
    id: String,
    name: String,
    trigger: &Json,
    context: &Json,
    steps: &Json,
) -> Option<Workflow> {
    let t = |k: &str| trigger.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    if t("type") != "state_change" || t("entity").is_empty() || t("field").is_empty() {
        tracing::warn!(workflow = %name, "stored workflow has no usable state_change trigger; skipped");
        return None;
    }
    let steps: Vec<Step> = steps
        .as_array()
        .map(|l| l.iter().map(compile_step).collect())
        .unwrap_or_default();
    let index = steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    let context = context
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|p| (k.clone(), p.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some(Workflow {
        id,
        name,
        trigger: Trigger {
            entity: t("entity"),
            field: t("field"),
            to: t("to"),
        },
        context,
        steps,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("72h"), Some(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("3x"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn compiles_the_refund_example() {
        let w = compile_workflow(
            "w1".into(),
            "refund_approval".into(),
            &json!({"type": "state_change", "entity": "order", "field": "status", "to": "refund_requested"}),
            &json!({"record_id": "trigger.record_id", "amount": "trigger.record.total"}),
            &json!([
                {"id": "check", "type": "condition", "expression": "context.amount > 500",
                 "on_true": {"goto": "review"}, "on_false": {"goto": "refund"}},
                {"id": "review", "type": "approval", "assignee": {"type": "role", "role": "manager"},
                 "timeout": "48h", "on_approve": {"goto": "refund"}, "on_reject": "end"},
                {"id": "refund", "type": "action", "actions": [{"type": "set_field", "field": "status", "value": "refunded"}], "then": "end"},
                {"id": "odd", "type": "teleport"}
            ]),
        )
        .expect("compiles");
        assert_eq!(w.first().map(|s| s.id.as_str()), Some("check"));
        assert!(
            matches!(&w.step("check").map(|s| &s.kind), Some(StepKind::Condition { expr: Ok(_), on_true: Goto::Step(t), .. }) if t == "review")
        );
        match &w.step("review").map(|s| &s.kind) {
            Some(StepKind::Approval {
                assignee,
                timeout,
                on_reject,
                on_timeout,
                ..
            }) => {
                assert_eq!(assignee, &Some(Assignee::Role("manager".into())));
                assert_eq!(*timeout, Some(Duration::from_secs(48 * 3600)));
                assert_eq!(on_reject, &Goto::End);
                assert_eq!(on_timeout, &Goto::Absent);
            }
            other => panic!("not an approval: {other:?}"),
        }
        assert!(matches!(&w.step("odd").map(|s| &s.kind), Some(StepKind::Unknown(k)) if k == "teleport"));
        assert_eq!(w.context.len(), 2);
        assert!(compile_workflow(
            "w2".into(),
            "n".into(),
            &json!({"type": "cron"}),
            &json!({}),
            &json!([])
        )
        .is_none());
    }
}
