//! Renderer tests: the dialect-specific statements against the expected text
//! kept beside each dialect (`pg.rs`, `sqlite.rs`), the neutral ones here.

use super::*;

const DIALECTS: [(Dialect, &str, &str, &str); 2] = [
    (
        Dialect::Postgres,
        pg::expected::LIST_WHERE,
        pg::expected::INCLUDE_BY_COLUMN,
        pg::expected::INCLUDE_THROUGH_JOIN,
    ),
    (
        Dialect::Sqlite,
        sqlite::expected::LIST_WHERE,
        sqlite::expected::INCLUDE_BY_COLUMN,
        sqlite::expected::INCLUDE_THROUGH_JOIN,
    ),
];

/// A soft-deleting table with an implicit `deleted_at`.
fn people() -> Table {
    Table::new("people", ["id", "name", "age", "deleted_at"], "id", true)
}

fn tags() -> JoinTable {
    JoinTable::new("person_tags", "person_id", "tag_id")
}

fn cmp(col: &str, op: Op, text: bool, value: Value) -> Cond<'_> {
    Cond::Cmp { col, op, text, value }
}

fn list_all_ops(t: &Table) -> List<'_> {
    let (name, age) = ("\"name\"", "\"age\"");
    let list = || Value::List(vec![Value::Int(1), Value::Int(2)]);
    List {
        table: t,
        filter: vec![
            cmp(name, Op::Eq, true, Value::text("a")),
            cmp(age, Op::Neq, false, Value::Int(1)),
            cmp(age, Op::Gt, false, Value::Int(1)),
            cmp(age, Op::Gte, false, Value::Int(1)),
            cmp(age, Op::Lt, false, Value::Int(1)),
            cmp(age, Op::Lte, false, Value::Int(1)),
            cmp(age, Op::In, false, list()),
            cmp(age, Op::NotIn, false, list()),
            cmp(name, Op::Like, true, Value::text("a%")),
            cmp(age, Op::Like, false, Value::text("1%")),
        ],
        sort: vec![Sort { col: age, desc: true }],
        limit: 25,
        offset: 50,
    }
}

#[test]
fn list_page_and_count_per_dialect() {
    let t = people();
    for (d, wh, ..) in DIALECTS {
        let (page, count) = list_all_ops(&t).render(d);
        assert_eq!(
            count.sql,
            ["SELECT COUNT(*) AS n FROM \"people\" WHERE ", wh].concat(),
            "{d:?}"
        );
        let want = [
            "SELECT \"id\", \"name\", \"age\", \"deleted_at\" FROM \"people\" WHERE ",
            wh,
            " ORDER BY \"age\" DESC NULLS FIRST, \"id\" ASC LIMIT $11 OFFSET $12",
        ];
        assert_eq!(page.sql, want.concat(), "{d:?}");
        assert_eq!(count.params.len(), 10);
        assert_eq!(page.params[..10], count.params[..]);
        assert_eq!(page.params[10..], [Value::Int(25), Value::Int(50)]);
    }
}

#[test]
fn includes_per_dialect() {
    let (t, join) = (people(), tags());
    for (d, _, by_column, through_join) in DIALECTS {
        let st = Include {
            table: &t,
            via: Via::Column("\"team_id\""),
            keys: vec![Value::Int(1)],
            filter: Vec::new(),
        }
        .render(d);
        assert_eq!(st.sql, by_column, "{d:?}");
        assert_eq!(st.params, [Value::List(vec![Value::Int(1)])]);
        let policy = Cond::AnyOf(vec![
            vec![cmp("\"age\"", Op::Gt, false, Value::Int(3))],
            vec![Cond::False],
        ]);
        let st = Include {
            table: &t,
            via: Via::Join {
                join: &join,
                reverse: true,
                on: "\"id\"",
            },
            keys: vec![Value::Int(7)],
            filter: vec![policy],
        }
        .render(d);
        assert_eq!(st.sql, through_join, "{d:?}");
        assert_eq!(st.params, [Value::List(vec![Value::Int(7)]), Value::Int(3)]);
    }
}

#[test]
fn empty_filters_and_sort() {
    let plain = Table::new("notes", ["id", "body"], "id", false);
    for d in [Dialect::Postgres, Dialect::Sqlite] {
        let list = |t| List {
            table: t,
            filter: Vec::new(),
            sort: Vec::new(),
            limit: 1,
            offset: 0,
        };
        let (page, count) = list(&plain).render(d);
        assert_eq!(count.sql, "SELECT COUNT(*) AS n FROM \"notes\" WHERE TRUE");
        assert_eq!(
            page.sql,
            "SELECT \"id\", \"body\" FROM \"notes\" WHERE TRUE ORDER BY \"id\" ASC LIMIT $1 OFFSET $2"
        );
        let t = people();
        let (_, count) = list(&t).render(d);
        assert_eq!(
            count.sql,
            "SELECT COUNT(*) AS n FROM \"people\" WHERE \"deleted_at\" IS NULL"
        );
        // Sorting by the key itself adds no tiebreaker; a denied policy is FALSE.
        let mut l = list(&t);
        l.sort = vec![Sort {
            col: "\"id\"",
            desc: false,
        }];
        l.filter = vec![Cond::AnyOf(Vec::new())];
        let (page, _) = l.render(d);
        assert!(
            page.sql.ends_with(
                "WHERE FALSE AND \"deleted_at\" IS NULL ORDER BY \"id\" ASC NULLS LAST LIMIT $1 OFFSET $2"
            ),
            "{}",
            page.sql
        );
    }
}

#[test]
fn precompiled_statements() {
    let t = people();
    assert_eq!(
        t.by_pk(),
        "SELECT \"id\", \"name\", \"age\", \"deleted_at\" FROM \"people\" WHERE \"id\" = $1 AND \"deleted_at\" IS NULL"
    );
    assert_eq!(
        Table::new("a\"b", ["x"], "x", false).select_by("\"x\""),
        "SELECT \"x\" FROM \"a\"\"b\" WHERE \"x\" = $1"
    );
    let j = tags();
    assert_eq!(
        j.link(),
        "INSERT INTO \"person_tags\" (\"person_id\", \"tag_id\") VALUES ($1, $2) ON CONFLICT DO NOTHING"
    );
    assert_eq!(
        j.unlink(),
        "DELETE FROM \"person_tags\" WHERE \"person_id\" = $1 AND \"tag_id\" = $2"
    );
    assert_eq!(j.clear(), "DELETE FROM \"person_tags\" WHERE \"person_id\" = $1");
}

#[test]
fn inserts_and_updates() {
    let t = people();
    let st = Insert {
        table: &t,
        values: vec![("\"name\"", Value::text("a")), ("\"age\"", Value::Int(3))],
    }
    .render();
    assert_eq!(
        st.sql,
        "INSERT INTO \"people\" (\"name\", \"age\") VALUES ($1, $2) RETURNING \"id\", \"name\", \"age\", \"deleted_at\""
    );
    assert_eq!(st.params, [Value::text("a"), Value::Int(3)]);
    let st = Insert {
        table: &t,
        values: vec![("\"name\"", Value::text("a"))],
    }
    .render_keep_existing();
    assert_eq!(
        st.sql,
        "INSERT INTO \"people\" (\"name\") VALUES ($1) ON CONFLICT DO NOTHING RETURNING \"id\", \"name\", \"age\", \"deleted_at\""
    );
    let st = Insert {
        table: &t,
        values: Vec::new(),
    }
    .render();
    assert_eq!(
        st.sql,
        "INSERT INTO \"people\" DEFAULT VALUES RETURNING \"id\", \"name\", \"age\", \"deleted_at\""
    );
    let st = Update {
        table: &t,
        key: Value::Int(9),
        sets: vec![("\"age\"", Value::Int(4))],
    }
    .render();
    assert_eq!(
        st.sql,
        "UPDATE \"people\" SET \"age\" = $2 WHERE \"id\" = $1 AND \"deleted_at\" IS NULL \
         RETURNING \"id\", \"name\", \"age\", \"deleted_at\""
    );
    assert_eq!(st.params, [Value::Int(9), Value::Int(4)]);
    let st = Update {
        table: &t,
        key: Value::Int(9),
        sets: Vec::new(),
    }
    .render();
    assert_eq!((st.sql.as_str(), st.params), (t.by_pk(), vec![Value::Int(9)]));
}

#[test]
fn statements_by_key() {
    let (soft, hard) = (people(), Table::new("notes", ["id", "person_id"], "id", false));
    let by = |table, col| ByKey {
        table,
        col,
        key: Value::Int(1),
    };
    let fk = "\"person_id\"";
    assert_eq!(
        by(&soft, fk).count().sql,
        "SELECT COUNT(*) AS n FROM \"people\" WHERE \"person_id\" = $1 AND \"deleted_at\" IS NULL"
    );
    assert_eq!(
        by(&hard, fk).keys().sql,
        "SELECT \"id\" FROM \"notes\" WHERE \"person_id\" = $1"
    );
    let st = by(&soft, fk).delete();
    assert_eq!(
        st.sql,
        "UPDATE \"people\" SET \"deleted_at\" = $2 WHERE \"person_id\" = $1 AND \"deleted_at\" IS NULL"
    );
    assert!(matches!(st.params[..], [Value::Int(1), Value::Timestamp(_)]));
    let st = by(&hard, fk).delete();
    assert_eq!(
        (st.sql.as_str(), st.params),
        (
            "DELETE FROM \"notes\" WHERE \"person_id\" = $1",
            vec![Value::Int(1)]
        )
    );
    assert_eq!(
        by(&hard, fk).set_null().sql,
        "UPDATE \"notes\" SET \"person_id\" = NULL WHERE \"person_id\" = $1"
    );
}

#[test]
fn taken_slugs_escape_like_characters() {
    let t = Table::new("posts", ["id", "slug"], "id", true);
    let st = SlugsTaken {
        table: &t,
        col: "\"slug\"",
        base: "50%_off\\",
        exclude: Some(Value::Int(3)),
    }
    .render();
    assert_eq!(
        st.sql,
        "SELECT \"slug\" AS s FROM \"posts\" WHERE (\"slug\" = $1 OR \"slug\" LIKE $2 ESCAPE '\\') AND \"id\" != $3"
    );
    assert_eq!(
        st.params,
        [
            Value::text("50%_off\\"),
            Value::text("50\\%\\_off\\\\-%"),
            Value::Int(3)
        ]
    );
}
