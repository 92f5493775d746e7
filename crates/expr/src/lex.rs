//! Tokenizer: source text → tokens with byte positions. No allocation except
//! for string literals (their escapes are resolved here).

use crate::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    Int(i64),
    Float(f64),
    Str(String),
    /// An identifier or a keyword (`true`, `and`, `in`, `new`, …); the parser
    /// decides, so keywords still work as member names (`record.in`).
    Word(&'a str),
    /// Operators and punctuation, longest match first.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset of the token's first character.
    pub pos: usize,
}

const OPS: &[&str] = &[
    "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "<", ">", "+", "-", "*", "/", "%", "!",
    "(", ")", "[", "]", ",", ".", "?", ":",
];

pub fn lex(src: &str) -> Result<Vec<Token<'_>>, ExprError> {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 3 + 1);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let digit_at = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
        let (tok, end) = if c.is_ascii_digit() || (c == b'.' && digit_at(i + 1)) {
            number(src, i)?
        } else if c == b'\'' || c == b'"' {
            let (s, end) = string(src, i)?;
            (Tok::Str(s), end)
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'$') {
                j += 1;
            }
            (Tok::Word(&src[i..j]), j)
        } else {
            let rest = &src[i..];
            match OPS.iter().find(|op| rest.starts_with(**op)) {
                // `c ?.5 : 1` is a conditional, not optional chaining (as in JS).
                Some(&"?.") if digit_at(i + 2) => (Tok::Op("?"), i + 1),
                Some(op) => (Tok::Op(op), i + op.len()),
                None => {
                    let ch = rest.chars().next().unwrap_or('?');
                    let hint = match ch {
                        '=' => "; use '==' to compare",
                        '&' => "; use '&&' or 'and'",
                        '|' => "; use '||' or 'or'",
                        _ => "",
                    };
                    return Err(ExprError::new(i, format!("unexpected character '{ch}'{hint}")));
                }
            }
        };
        out.push(Token { tok, pos: i });
        i = end;
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

/// A number starting at `start`: `12`, `1_000`, `1.5`, `.5`, `2e3`, `1.5E-2`.
/// Integers that fit in i64 stay integers; anything else is a float.
fn number(src: &str, start: usize) -> Result<(Tok<'static>, usize), ExprError> {
    let b = src.as_bytes();
    let digits = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut j = digits(start);
    let mut float = false;
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        float = true;
        j = digits(j + 1);
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let k = if matches!(b.get(j + 1), Some(b'+' | b'-')) {
            j + 2
        } else {
            j + 1
        };
        if b.get(k).is_some_and(u8::is_ascii_digit) {
            float = true;
            j = digits(k);
        }
    }
    let text: String = src[start..j].chars().filter(|c| *c != '_').collect();
    let bad = || ExprError::new(start, format!("invalid number '{}'", &src[start..j]));
    if !float {
        if let Ok(n) = text.parse::<i64>() {
            return Ok((Tok::Int(n), j));
        }
    }
    let n: f64 = text.parse().map_err(|_| bad())?;
    if !n.is_finite() {
        return Err(ExprError::new(start, "number out of range"));
    }
    Ok((Tok::Float(n), j))
}

/// A quoted string starting at `start`; returns its value and the index after
/// the closing quote. Escapes: `\n \t \r \0 \b \f \v \\ \' \"`, `\uXXXX`
/// (with surrogate pairs), `\u{X…}`; any other escaped character stands for
/// itself, as in JavaScript.
fn string(src: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = src.as_bytes()[start] as char;
    let body = &src[start + 1..];
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((off, c)) = chars.next() {
        let at = start + 1 + off;
        if c == quote {
            return Ok((out, at + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'u' => {
                let bad = || ExprError::new(at, "invalid unicode escape");
                let code = if chars.peek().is_some_and(|(_, c)| *c == '{') {
                    chars.next();
                    let mut hex = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, h)) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                            _ => return Err(bad()),
                        }
                    }
                    u32::from_str_radix(&hex, 16).map_err(|_| bad())?
                } else {
                    let hi = hex4(&mut chars).ok_or_else(bad)?;
                    if (0xD800..0xDC00).contains(&hi) {
                        // A high surrogate must be followed by `\uDC00`–`\uDFFF`.
                        if chars.next().map(|x| x.1) != Some('\\') || chars.next().map(|x| x.1) != Some('u') {
                            return Err(bad());
                        }
                        let lo = hex4(&mut chars).ok_or_else(bad)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return Err(bad());
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    } else {
                        hi
                    }
                };
                out.push(char::from_u32(code).ok_or_else(bad)?);
            }
            other => out.push(other),
        }
    }
    Err(ExprError::new(start, "unterminated string"))
}

fn hex4(chars: &mut impl Iterator<Item = (usize, char)>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.1.to_digit(16)?;
    }
    Some(v)
}
