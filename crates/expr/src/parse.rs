//! Recursive-descent parser producing the compiled tree.
//!
//! Precedence, loosest first (JavaScript's order; `??` binds like expr-lang):
//!
//! | level | operators | associativity |
//! |---|---|---|
//! | conditional | `c ? a : b` | right |
//! | or | `\|\|` `or` | left, short-circuit |
//! | and | `&&` `and` | left, short-circuit |
//! | equality | `==` `!=` `===` `!==` | left |
//! | relational | `<` `<=` `>` `>=` `in` `not in` | left |
//! | additive | `+` `-` | left |
//! | multiplicative | `*` `/` `%` | left |
//! | nullish | `??` | left, short-circuit |
//! | unary | `!` `not` `-` `+` | prefix |
//! | postfix | `.name` `?.name` `[expr]` | left |
//!
//! Stack safety: runs of operators on one level (`a + b + c …`, `x.a.b.c …`)
//! become flat lists, not deep trees, so their length is bounded only by the
//! source size. Everything that nests — parentheses, brackets, call
//! arguments, conditional branches, unary operators — goes through
//! [`Parser::enter`], which refuses more than [`MAX_DEPTH`] levels. Each level
//! adds at most one node per precedence level to the tree, so the tree's
//! height (and the evaluator's recursion) is bounded by a small constant times
//! `MAX_DEPTH`.

use crate::lex::{lex, Tok, Token};
use crate::{ExprError, MAX_DEPTH};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Infix {
    Or,
    And,
    Bin(BinOp),
}

impl Infix {
    /// Precedence level, loosest 0.
    fn level(self) -> u8 {
        match self {
            Infix::Or => 0,
            Infix::And => 1,
            Infix::Bin(op) => op.level(),
        }
    }

    /// `lhs op rhs`, extending `lhs` when it is already a run on this level
    /// (`(a + b) + c` and `a + b + c` are the same left fold).
    fn join(self, lhs: Node, pos: usize, rhs: Node) -> Node {
        match (self, lhs) {
            (Infix::Or, Node::Or(mut v)) | (Infix::And, Node::And(mut v)) => {
                v.push(rhs);
                if matches!(self, Infix::Or) {
                    Node::Or(v)
                } else {
                    Node::And(v)
                }
            }
            (Infix::Or, lhs) => Node::Or(vec![lhs, rhs]),
            (Infix::And, lhs) => Node::And(vec![lhs, rhs]),
            (Infix::Bin(op), Node::Chain(first, mut rest)) if rest[0].0.level() == op.level() => {
                rest.push((op, pos, rhs));
                Node::Chain(first, rest)
            }
            (Infix::Bin(op), lhs) => Node::Chain(Box::new(lhs), vec![(op, pos, rhs)]),
        }
    }
}

impl BinOp {
    fn level(self) -> u8 {
        match self {
            BinOp::Eq | BinOp::Ne => 2,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In | BinOp::NotIn => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Len,
    Now,
    Date,
    Lower,
    Upper,
    Trim,
    String,
    Int,
    Float,
}

impl Func {
    fn lookup(name: &str) -> Option<Func> {
        Some(match name {
            "len" => Func::Len,
            "now" => Func::Now,
            "Date" => Func::Date,
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            "trim" => Func::Trim,
            "string" | "String" => Func::String,
            "int" => Func::Int,
            "float" | "Number" => Func::Float,
            _ => return None,
        })
    }

    /// Accepted argument counts (inclusive).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Now => (0, 0),
            Func::Date => (0, 1),
            _ => (1, 1),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Len => "len",
            Func::Now => "now",
            Func::Date => "Date",
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Trim => "trim",
            Func::String => "string",
            Func::Int => "int",
            Func::Float => "float",
        }
    }
}

/// One step of a member path.
#[derive(Debug, Clone)]
pub enum Seg {
    /// `.name`, `?.name` or `["name"]` with a literal string.
    Field(Box<str>),
    /// `[expr]`
    Index(Node),
}

#[derive(Debug, Clone)]
pub enum Node {
    Lit(Lit),
    Var(Box<str>),
    /// A base value followed by member/index steps, resolved left to right.
    Path(Box<Node>, Vec<Seg>),
    Array(Vec<Node>),
    /// Built-in function call; the position is the function name's.
    Call(Func, Vec<Node>, usize),
    Not(Box<Node>),
    Neg(Box<Node>, usize),
    Plus(Box<Node>, usize),
    /// `first op₁ x₁ op₂ x₂ …` on one precedence level, folded left to right;
    /// each operator keeps its byte position for runtime errors.
    Chain(Box<Node>, Vec<(BinOp, usize, Node)>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Coalesce(Vec<Node>),
    Cond(Box<(Node, Node, Node)>),
}

pub fn parse(src: &str) -> Result<Node, ExprError> {
    let toks = lex(src)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    let n = p.expr()?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected());
    }
    if taller_than(&n, MAX_DEPTH) {
        return Err(ExprError::new(
            0,
            format!("expression nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(n)
}

/// The evaluator recurses once per tree level, so the tree's height is
/// bounded too: operator runs are flat, but `a ?? b * c + d > e == f && g`
/// nests one node per precedence level without any parentheses. Never
/// descends more than `budget` levels itself.
fn taller_than(n: &Node, budget: usize) -> bool {
    let Some(b) = budget.checked_sub(1) else {
        return true;
    };
    let any = |items: &[Node]| items.iter().any(|x| taller_than(x, b));
    match n {
        Node::Lit(_) | Node::Var(_) => false,
        Node::Not(x) | Node::Neg(x, _) | Node::Plus(x, _) => taller_than(x, b),
        Node::Array(v) | Node::Call(_, v, _) | Node::And(v) | Node::Or(v) | Node::Coalesce(v) => any(v),
        Node::Path(base, segs) => {
            taller_than(base, b)
                || segs
                    .iter()
                    .any(|s| matches!(s, Seg::Index(i) if taller_than(i, b)))
        }
        Node::Chain(first, rest) => taller_than(first, b) || rest.iter().any(|(_, _, x)| taller_than(x, b)),
        Node::Cond(c) => taller_than(&c.0, b) || taller_than(&c.1, b) || taller_than(&c.2, b),
    }
}

/// Prefix operator `kind` (0 `!`, 1 `-`, 2 `+`) applied to `inner`;
/// negative number literals fold into constants.
fn prefix(kind: u8, inner: Node, pos: usize) -> Node {
    match (kind, inner) {
        (1, Node::Lit(Lit::Int(n))) => Node::Lit(n.checked_neg().map_or(Lit::Float(-(n as f64)), Lit::Int)),
        (1, Node::Lit(Lit::Float(n))) => Node::Lit(Lit::Float(-n)),
        (0, inner) => Node::Not(Box::new(inner)),
        (1, inner) => Node::Neg(Box::new(inner), pos),
        (_, inner) => Node::Plus(Box::new(inner), pos),
    }
}

/// Applies the innermost pending operator to the last two operands.
fn reduce(operands: &mut Vec<Node>, pending: &mut Vec<(Infix, usize)>) {
    if let (Some((op, pos)), Some(rhs), Some(lhs)) = (pending.pop(), operands.pop(), operands.pop()) {
        operands.push(op.join(lhs, pos, rhs));
    }
}

struct Parser<'a> {
    toks: Vec<Token<'a>>,
    i: usize,
    depth: usize,
}

type R<T> = Result<T, ExprError>;

fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "end of expression".into(),
        Tok::Int(n) => format!("number {n}"),
        Tok::Float(n) => format!("number {n}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Word(w) => format!("'{w}'"),
        Tok::Op(o) => format!("'{o}'"),
    }
}

const RESERVED: &[&str] = &["and", "or", "not", "in", "new"];
const LITERAL_WORDS: &[&str] = &["true", "false", "nil", "null", "undefined"];

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok<'a> {
        &self.toks[self.i].tok
    }
    fn peek_at(&self, ahead: usize) -> &Tok<'a> {
        let last = self.toks.len() - 1;
        &self.toks[(self.i + ahead).min(last)].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i].pos
    }
    /// Consumes the current token (never moves past `Eof`).
    fn bump(&mut self) -> Tok<'a> {
        let t = self.toks[self.i].tok.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if *x == w)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        let hit = self.is_op(op);
        if hit {
            self.bump();
        }
        hit
    }
    fn unexpected(&self) -> ExprError {
        ExprError::new(self.pos(), format!("unexpected {}", describe(self.peek())))
    }
    fn expect(&mut self, op: &str) -> R<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(ExprError::new(
                self.pos(),
                format!("expected '{op}', found {}", describe(self.peek())),
            ))
        }
    }
    /// One more level of nesting; refused past [`MAX_DEPTH`].
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError::new(
                self.pos(),
                format!("expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// conditional: `or ('?' expr ':' expr)?`
    fn expr(&mut self) -> R<Node> {
        self.enter()?;
        let n = match self.binary() {
            Ok(c) if self.is_op("?") => self.conditional(c),
            other => other,
        };
        self.leave();
        n
    }

    /// `'?' expr ':' expr` after the condition `c`.
    fn conditional(&mut self, c: Node) -> R<Node> {
        self.bump();
        let a = self.expr()?;
        self.expect(":")?;
        let b = self.expr()?;
        Ok(Node::Cond(Box::new((c, a, b))))
    }

    /// Binary operators, by operator precedence with an explicit stack (no
    /// recursion: the stack holds at most one pending operator per level).
    /// Runs on one level become one flat node.
    fn binary(&mut self) -> R<Node> {
        let mut operands = vec![self.nullish()?];
        let mut pending: Vec<(Infix, usize)> = Vec::new();
        while let Some((op, width)) = self.infix() {
            let pos = self.pos();
            for _ in 0..width {
                self.bump();
            }
            while pending.last().is_some_and(|(top, _)| top.level() >= op.level()) {
                reduce(&mut operands, &mut pending);
            }
            pending.push((op, pos));
            operands.push(self.nullish()?);
        }
        while !pending.is_empty() {
            reduce(&mut operands, &mut pending);
        }
        // One operand more than operators, so exactly one is left.
        operands
            .pop()
            .ok_or_else(|| ExprError::new(self.pos(), "internal error: empty operand stack"))
    }

    /// The binary operator at the cursor and how many tokens it spans.
    fn infix(&self) -> Option<(Infix, usize)> {
        Some(match self.peek() {
            Tok::Op("||") | Tok::Word("or") => (Infix::Or, 1),
            Tok::Op("&&") | Tok::Word("and") => (Infix::And, 1),
            Tok::Op("==" | "===") => (Infix::Bin(BinOp::Eq), 1),
            Tok::Op("!=" | "!==") => (Infix::Bin(BinOp::Ne), 1),
            Tok::Op("<") => (Infix::Bin(BinOp::Lt), 1),
            Tok::Op("<=") => (Infix::Bin(BinOp::Le), 1),
            Tok::Op(">") => (Infix::Bin(BinOp::Gt), 1),
            Tok::Op(">=") => (Infix::Bin(BinOp::Ge), 1),
            Tok::Word("in") => (Infix::Bin(BinOp::In), 1),
            Tok::Word("not") if self.peek_at(1) == &Tok::Word("in") => (Infix::Bin(BinOp::NotIn), 2),
            Tok::Op("+") => (Infix::Bin(BinOp::Add), 1),
            Tok::Op("-") => (Infix::Bin(BinOp::Sub), 1),
            Tok::Op("*") => (Infix::Bin(BinOp::Mul), 1),
            Tok::Op("/") => (Infix::Bin(BinOp::Div), 1),
            Tok::Op("%") => (Infix::Bin(BinOp::Rem), 1),
            _ => return None,
        })
    }

    /// `unary ('??' unary)*`: binds tighter than every other binary operator.
    fn nullish(&mut self) -> R<Node> {
        let first = self.unary()?;
        if !self.is_op("??") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op("??") {
            items.push(self.unary()?);
        }
        Ok(Node::Coalesce(items))
    }

    fn unary(&mut self) -> R<Node> {
        let pos = self.pos();
        let kind = match self.peek() {
            Tok::Op("!") | Tok::Word("not") => 0,
            Tok::Op("-") => 1,
            Tok::Op("+") => 2,
            _ => return self.postfix(),
        };
        self.bump();
        self.enter()?;
        let inner = self.unary();
        self.leave();
        inner.map(|inner| prefix(kind, inner, pos))
    }

    fn postfix(&mut self) -> R<Node> {
        let base = self.primary()?;
        let segs = self.segments()?;
        Ok(if segs.is_empty() {
            base
        } else {
            Node::Path(Box::new(base), segs)
        })
    }

    /// `.name`, `?.name`, `[expr]` steps after a primary.
    fn segments(&mut self) -> R<Vec<Seg>> {
        let mut segs = Vec::new();
        loop {
            if self.is_op("?.") && self.peek_at(1) == &Tok::Op("[") {
                self.bump();
                continue;
            }
            if self.eat_op(".") || self.eat_op("?.") {
                segs.push(Seg::Field(self.field_name()?));
            } else if self.eat_op("[") {
                let idx = self.expr()?;
                self.expect("]")?;
                segs.push(match idx {
                    Node::Lit(Lit::Str(s)) => Seg::Field(s),
                    other => Seg::Index(other),
                });
            } else if self.is_op("(") {
                return Err(ExprError::new(
                    self.pos(),
                    "only the built-in functions can be called",
                ));
            } else {
                break;
            }
        }
        Ok(segs)
    }

    /// The word after `.`; keywords are fine (`record.in`).
    fn field_name(&mut self) -> R<Box<str>> {
        match self.peek() {
            Tok::Word(w) => {
                let w = (*w).into();
                self.bump();
                Ok(w)
            }
            other => Err(ExprError::new(
                self.pos(),
                format!("expected a field name after '.', found {}", describe(other)),
            )),
        }
    }

    /// `'(' (expr (',' expr)*)? ')'`; `f` is only for messages.
    fn args(&mut self, f: Func, pos: usize) -> R<Vec<Node>> {
        self.expect("(")?;
        let args = self.items(")")?;
        let (lo, hi) = f.arity();
        if args.len() < lo || args.len() > hi {
            let want = if lo == hi {
                format!("{lo}")
            } else {
                format!("{lo} to {hi}")
            };
            return Err(ExprError::new(
                pos,
                format!(
                    "{}() takes {want} argument{}, got {}",
                    f.name(),
                    if hi == 1 && lo == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        Ok(args)
    }

    /// Comma-separated expressions up to `close` (a trailing comma is fine).
    fn items(&mut self, close: &str) -> R<Vec<Node>> {
        let mut items = Vec::new();
        while !self.is_op(close) {
            items.push(self.expr()?);
            if !self.eat_op(",") {
                break;
            }
        }
        self.expect(close)?;
        Ok(items)
    }

    /// Parentheses, array literals, names and calls, literals. The rare
    /// paths live in their own functions to keep this recursive frame small.
    fn primary(&mut self) -> R<Node> {
        match self.peek() {
            Tok::Op("(") => {
                self.bump();
                let n = self.expr()?;
                self.expect(")")?;
                Ok(n)
            }
            Tok::Op("[") => {
                self.bump();
                Ok(Node::Array(self.items("]")?))
            }
            Tok::Word(w) if !LITERAL_WORDS.contains(w) => self.name(),
            _ => self.literal(),
        }
    }

    /// A variable, a function call or `new Date(…)`.
    fn name(&mut self) -> R<Node> {
        let pos = self.pos();
        let Tok::Word(name) = self.bump() else {
            return Err(self.unexpected());
        };
        if RESERVED.contains(&name) && name != "new" {
            self.i -= 1;
            return Err(self.unexpected());
        }
        if name == "new" {
            if !self.is_word("Date") {
                return Err(ExprError::new(pos, "only 'new Date(…)' is supported"));
            }
            let at = self.pos();
            self.bump();
            // `new Date` without parentheses is the current time, as in JS.
            let args = if self.is_op("(") {
                self.args(Func::Date, at)?
            } else {
                Vec::new()
            };
            return Ok(Node::Call(Func::Date, args, at));
        }
        if !self.is_op("(") {
            return Ok(Node::Var(name.into()));
        }
        let f =
            Func::lookup(name).ok_or_else(|| ExprError::new(pos, format!("unknown function '{name}'")))?;
        let args = self.args(f, pos)?;
        Ok(Node::Call(f, args, pos))
    }

    fn literal(&mut self) -> R<Node> {
        let lit = match self.peek() {
            Tok::Int(n) => Lit::Int(*n),
            Tok::Float(n) => Lit::Float(*n),
            Tok::Str(s) => Lit::Str(s.as_str().into()),
            Tok::Word("true") => Lit::Bool(true),
            Tok::Word("false") => Lit::Bool(false),
            Tok::Word("nil" | "null" | "undefined") => Lit::Null,
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(Node::Lit(lit))
    }
}
