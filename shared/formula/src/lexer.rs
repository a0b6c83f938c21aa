//! Turns formula text into tokens, each with the byte offset where it starts.
//!
//! The lexer knows one piece of context: right after a `.` it reads a field name, which may
//! start with a digit or use any Unicode letter (`@0.2024`, `@0.größe`), where elsewhere a
//! name is an ASCII identifier (function names, keywords).

use crate::error::ParseError;

/// The largest binding index a formula may use.
pub(crate) const MAX_BINDING: usize = 999;

const NUL_IN_STRING: &str = "a string cannot hold the NUL character";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Number(f64),
    Str(String),
    /// A bare identifier: a function name or a keyword (`true`, `and`, …).
    Name(String),
    /// A field name read right after a `.`.
    Field(String),
    Binding(usize),
    Variable(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    End,
}

impl Tok {
    /// How the token is named in error messages.
    pub(crate) fn describe(&self) -> String {
        let symbol = match self {
            Tok::Number(n) => return format!("number {}", crate::value::format_number(*n)),
            Tok::Str(_) => return "a string".to_string(),
            Tok::Name(name) | Tok::Field(name) => return format!("'{name}'"),
            Tok::Binding(index) => return format!("'@{index}'"),
            Tok::Variable(name) => return format!("'${name}'"),
            Tok::End => return "end of formula".to_string(),
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Amp => "&",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
        };
        format!("'{symbol}'")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub offset: usize,
}

/// Splits `src` into tokens, ending with [`Tok::End`] at `src.len()`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut tokens: Vec<Token> = Vec::new();
    loop {
        lexer.skip_whitespace();
        let offset = lexer.pos;
        let after_dot = matches!(tokens.last(), Some(Token { tok: Tok::Dot, .. }));
        let tok = match lexer.peek() {
            None => Tok::End,
            Some(c) if after_dot && is_field_char(c) => Tok::Field(lexer.take_while(is_field_char)),
            Some(c) => lexer.token(c)?,
        };
        let done = tok == Tok::End;
        tokens.push(Token { tok, offset });
        if done {
            return Ok(tokens);
        }
    }
}

/// Characters a field name after `.` may contain; anything else needs `["…"]`.
pub(crate) fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.src[start..self.pos].to_string()
    }

    fn skip_whitespace(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, offset, message)
    }

    /// Reads the token starting with `c` at the current position.
    fn token(&mut self, c: char) -> Result<Tok, ParseError> {
        let start = self.pos;
        if c.is_ascii_digit() {
            return self.number();
        }
        if is_name_start(c) {
            return Ok(Tok::Name(self.take_while(is_name_char)));
        }
        self.bump();
        let tok = match c {
            '"' => return self.string(start),
            '@' => return self.binding(start),
            '$' => {
                if !self.peek().is_some_and(is_name_start) {
                    return Err(self.error(start, "expected a variable name after '$'"));
                }
                Tok::Variable(self.take_while(is_name_char))
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '&' if self.eat('&') => Tok::AndAnd,
            '&' => Tok::Amp,
            '|' if self.eat('|') => Tok::OrOr,
            '|' => return Err(self.error(start, "unexpected character '|' (did you mean '||'?)")),
            '=' => {
                self.eat('=');
                Tok::Eq
            }
            '!' if self.eat('=') => Tok::Ne,
            '!' => Tok::Bang,
            '<' if self.eat('=') => Tok::Le,
            '<' if self.eat('>') => Tok::Ne,
            '<' => Tok::Lt,
            '>' if self.eat('=') => Tok::Ge,
            '>' => Tok::Gt,
            other => {
                return Err(self.error(start, format!("unexpected character '{other}'")));
            }
        };
        Ok(tok)
    }

    /// `digits [. digits] [e [+-] digits]`; a `.` or `e` not followed by digits ends the number.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        self.take_while(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && self.peek_second().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            self.take_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let rest = &self.src[self.pos + 1..];
            let sign = usize::from(rest.starts_with(['+', '-']));
            if rest[sign..].starts_with(|c: char| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                self.take_while(|c| c.is_ascii_digit());
            }
        }
        match self.src[start..self.pos].parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Tok::Number(value)),
            _ => Err(self.error(start, "number is too large")),
        }
    }

    fn binding(&mut self, start: usize) -> Result<Tok, ParseError> {
        let digits = self.take_while(|c| c.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.error(start, "expected a binding number after '@'"));
        }
        match digits.parse::<usize>() {
            Ok(index) if index <= MAX_BINDING => Ok(Tok::Binding(index)),
            _ => Err(self.error(
                start,
                format!("binding number is too large (at most {MAX_BINDING})"),
            )),
        }
    }

    /// A double-quoted string; the opening quote has been consumed. It may not hold a NUL
    /// character, written or escaped: renders are kept in PostgreSQL's JSON, which cannot.
    fn string(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut text = String::new();
        loop {
            let escape_at = self.pos;
            match self.bump() {
                None => return Err(self.error(start, "unterminated string")),
                Some('"') => return Ok(Tok::Str(text)),
                Some('\\') => text.push(self.escape(escape_at, start)?),
                Some('\0') => return Err(self.error(escape_at, NUL_IN_STRING)),
                Some(c) => text.push(c),
            }
        }
    }

    fn escape(&mut self, at: usize, string_start: usize) -> Result<char, ParseError> {
        let c = match self.bump() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('u') => {
                let hex = self.src[self.pos..].get(..4).unwrap_or("");
                let code = (hex.len() == 4 && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(c) = code else {
                    return Err(self.error(
                        at,
                        "invalid unicode escape (expected \\u and 4 hex digits of a character)",
                    ));
                };
                if c == '\0' {
                    return Err(self.error(at, NUL_IN_STRING));
                }
                self.pos += 4;
                c
            }
            None => return Err(self.error(string_start, "unterminated string")),
            Some(other) => {
                return Err(self.error(at, format!("invalid escape '\\{other}' in string")));
            }
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
