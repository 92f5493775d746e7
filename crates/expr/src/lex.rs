//! Tokenizer.

use crate::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Question,
    Colon,
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPS: &[&str] = &[
    "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!",
];

pub fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = match c {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'?' => Tok::Question,
            b':' => Tok::Colon,
            b'.' if !b.get(i + 1).is_some_and(u8::is_ascii_digit) => Tok::Dot,
            b'\'' | b'"' => {
                let (s, end) = string(src, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
                i = end;
                continue;
            }
            c if c.is_ascii_digit() || c == b'.' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b'_') {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
                    j += 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                let text: String = src[i..j].chars().filter(|c| *c != '_').collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| ExprError::new(i, format!("invalid number '{}'", &src[i..j])))?;
                out.push(Token {
                    tok: Tok::Num(n),
                    pos: start,
                });
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'$') {
                    j += 1;
                }
                let word = &src[i..j];
                let tok = match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "nil" | "null" | "undefined" => Tok::Null,
                    "and" => Tok::Op("&&"),
                    "or" => Tok::Op("||"),
                    "not" => Tok::Op("!"),
                    "in" => Tok::Op("in"),
                    _ => Tok::Ident(word.to_string()),
                };
                out.push(Token { tok, pos: start });
                i = j;
                continue;
            }
            _ => {
                let rest = &src[i..];
                match OPS.iter().find(|op| rest.starts_with(**op)) {
                    Some(op) => {
                        out.push(Token {
                            tok: Tok::Op(op),
                            pos: start,
                        });
                        i += op.len();
                        continue;
                    }
                    None => {
                        let ch = rest.chars().next().unwrap_or('?');
                        return Err(ExprError::new(i, format!("unexpected character '{ch}'")));
                    }
                }
            }
        };
        out.push(Token { tok, pos: start });
        i += 1;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

/// A quoted string starting at `start`; returns the value and the index after it.
fn string(src: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        match c {
            c if c == quote => return Ok((out, at + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => out.push('\0'),
                Some((_, e)) => out.push(e),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(ExprError::new(start, "unterminated string"))
}
