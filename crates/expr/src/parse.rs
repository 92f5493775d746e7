//! Recursive-descent parser with explicit depth limits.

use crate::lex::{Tok, Token};
use crate::{ExprError, MAX_DEPTH};

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Len,
    Now,
    Date,
    Lower,
    Upper,
}

#[derive(Debug, Clone)]
pub enum Node {
    Lit(Lit),
    Var(String),
    Field(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>, usize),
    Bin(BinOp, Box<Node>, Box<Node>, usize),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Array(Vec<Node>),
    Call(Func, Vec<Node>, usize),
}

/// Tallest accepted operator tree (long `a && b && …` chains).
const MAX_HEIGHT: usize = 2 * MAX_DEPTH;

struct P<'a> {
    t: &'a [Token],
    i: usize,
    depth: usize,
}

pub fn parse(tokens: &[Token], _len: usize) -> Result<Node, ExprError> {
    let mut p = P {
        t: tokens,
        i: 0,
        depth: 0,
    };
    let n = p.expr()?;
    if p.peek() != &Tok::Eof {
        return Err(p.err(format!("unexpected {}", describe(p.peek()))));
    }
    if height(&n) > MAX_HEIGHT {
        return Err(ExprError::new(
            0,
            format!("expression nests deeper than {MAX_HEIGHT} operations"),
        ));
    }
    Ok(n)
}

fn height(n: &Node) -> usize {
    1 + match n {
        Node::Lit(_) | Node::Var(_) => 0,
        Node::Field(a, _) | Node::Not(a) | Node::Neg(a, _) => height(a),
        Node::Index(a, b) | Node::Bin(_, a, b, _) | Node::And(a, b) | Node::Or(a, b) => {
            height(a).max(height(b))
        }
        Node::Cond(a, b, c) => height(a).max(height(b)).max(height(c)),
        Node::Array(v) | Node::Call(_, v, _) => v.iter().map(height).max().unwrap_or(0),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Eof => "end of expression".into(),
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Op(o) => format!("'{o}'"),
        other => format!("{other:?}").to_lowercase(),
    }
}

impl P<'_> {
    fn peek(&self) -> &Tok {
        &self.t[self.i.min(self.t.len() - 1)].tok
    }
    fn pos(&self) -> usize {
        self.t[self.i.min(self.t.len() - 1)].pos
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.t.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err(&self, m: impl Into<String>) -> ExprError {
        ExprError::new(self.pos(), m)
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<(), ExprError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", describe(self.peek()))))
        }
    }
    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("expression nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let cond = self.or()?;
        let n = if *self.peek() == Tok::Question {
            self.next();
            let a = self.expr()?;
            self.expect(Tok::Colon, "':'")?;
            let b = self.expr()?;
            Node::Cond(Box::new(cond), Box::new(a), Box::new(b))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(n)
    }

    fn or(&mut self) -> Result<Node, ExprError> {
        let mut l = self.and()?;
        while *self.peek() == Tok::Op("||") {
            self.next();
            l = Node::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Node, ExprError> {
        let mut l = self.equality()?;
        while *self.peek() == Tok::Op("&&") {
            self.next();
            l = Node::And(Box::new(l), Box::new(self.equality()?));
        }
        Ok(l)
    }

    fn equality(&mut self) -> Result<Node, ExprError> {
        let mut l = self.relational()?;
        loop {
            let op = match self.peek() {
                Tok::Op("==") | Tok::Op("===") => BinOp::Eq,
                Tok::Op("!=") | Tok::Op("!==") => BinOp::Ne,
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.relational()?), pos);
        }
    }

    fn relational(&mut self) -> Result<Node, ExprError> {
        let mut l = self.additive()?;
        loop {
            let pos = self.pos();
            let op = match self.peek() {
                Tok::Op("<") => BinOp::Lt,
                Tok::Op("<=") => BinOp::Le,
                Tok::Op(">") => BinOp::Gt,
                Tok::Op(">=") => BinOp::Ge,
                Tok::Op("in") => BinOp::In,
                // `x not in list`
                Tok::Op("!") if self.t.get(self.i + 1).is_some_and(|t| t.tok == Tok::Op("in")) => {
                    self.next();
                    BinOp::NotIn
                }
                _ => return Ok(l),
            };
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.additive()?), pos);
        }
    }

    fn additive(&mut self) -> Result<Node, ExprError> {
        let mut l = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.multiplicative()?), pos);
        }
    }

    fn multiplicative(&mut self) -> Result<Node, ExprError> {
        let mut l = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Rem,
                _ => return Ok(l),
            };
            let pos = self.pos();
            self.next();
            l = Node::Bin(op, Box::new(l), Box::new(self.unary()?), pos);
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        let pos = self.pos();
        match self.peek() {
            Tok::Op("!") => {
                self.next();
                self.enter()?;
                let n = Node::Not(Box::new(self.unary()?));
                self.depth -= 1;
                Ok(n)
            }
            Tok::Op("-") => {
                self.next();
                self.enter()?;
                let n = Node::Neg(Box::new(self.unary()?), pos);
                self.depth -= 1;
                Ok(n)
            }
            Tok::Op("+") => {
                self.next();
                self.unary()
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut n = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.next();
                    match self.next() {
                        Tok::Ident(name) => n = Node::Field(Box::new(n), name),
                        // Keywords are valid member names: record.null, record.in
                        Tok::True => n = Node::Field(Box::new(n), "true".into()),
                        Tok::False => n = Node::Field(Box::new(n), "false".into()),
                        Tok::Op("in") => n = Node::Field(Box::new(n), "in".into()),
                        other => {
                            return Err(self.err(format!(
                                "expected a field name after '.', found {}",
                                describe(&other)
                            )))
                        }
                    }
                }
                Tok::LBracket => {
                    self.next();
                    let idx = self.expr()?;
                    self.expect(Tok::RBracket, "']'")?;
                    n = Node::Index(Box::new(n), Box::new(idx));
                }
                _ => return Ok(n),
            }
        }
    }

    fn args(&mut self) -> Result<Vec<Node>, ExprError> {
        self.expect(Tok::LParen, "'('")?;
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                args.push(self.expr()?);
                if *self.peek() == Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(Tok::RParen, "')'")?;
        Ok(args)
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Node, ExprError> {
        let f = match name {
            "len" => Func::Len,
            "now" => Func::Now,
            "Date" => Func::Date,
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            _ => return Err(ExprError::new(pos, format!("unknown function '{name}'"))),
        };
        let args = self.args()?;
        let arity_ok = match f {
            Func::Now => args.is_empty(),
            Func::Date => args.len() <= 1,
            _ => args.len() == 1,
        };
        if !arity_ok {
            return Err(ExprError::new(
                pos,
                format!("wrong number of arguments for {name}()"),
            ));
        }
        Ok(Node::Call(f, args, pos))
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let pos = self.pos();
        match self.next() {
            Tok::Num(n) => Ok(Node::Lit(Lit::Num(n))),
            Tok::Str(s) => Ok(Node::Lit(Lit::Str(s))),
            Tok::True => Ok(Node::Lit(Lit::Bool(true))),
            Tok::False => Ok(Node::Lit(Lit::Bool(false))),
            Tok::Null => Ok(Node::Lit(Lit::Null)),
            Tok::Ident(name) if name == "new" => match self.next() {
                Tok::Ident(cls) if cls == "Date" => {
                    let p = self.pos();
                    if *self.peek() == Tok::LParen {
                        self.call("Date", p)
                    } else {
                        Ok(Node::Call(Func::Date, Vec::new(), p))
                    }
                }
                _ => Err(ExprError::new(pos, "only 'new Date(...)' is supported")),
            },
            Tok::Ident(name) => {
                if *self.peek() == Tok::LParen {
                    self.call(&name, pos)
                } else {
                    Ok(Node::Var(name))
                }
            }
            Tok::LParen => {
                let n = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(n)
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                if *self.peek() != Tok::RBracket {
                    loop {
                        items.push(self.expr()?);
                        if *self.peek() == Tok::Comma {
                            self.next();
                            if *self.peek() == Tok::RBracket {
                                break;
                            }
                        } else {
                            break;
                        }
                    }
                }
                self.expect(Tok::RBracket, "']'")?;
                Ok(Node::Array(items))
            }
            other => Err(ExprError::new(pos, format!("unexpected {}", describe(&other)))),
        }
    }
}
