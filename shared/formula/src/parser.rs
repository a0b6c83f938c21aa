//! Recursive-descent parser from tokens to a [`Formula`].
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! formula        = or EOF
//! or             = and { ("or" | "||") and }
//! and            = not { ("and" | "&&") not }
//! not            = ("not" | "!") not | comparison
//! comparison     = concat [ ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") concat ]
//! concat         = additive { "&" additive }
//! additive       = multiplicative { ("+" | "-") multiplicative }
//! multiplicative = unary { ("*" | "/" | "%") unary }
//! unary          = ("-" | "+") unary | postfix
//! postfix        = primary { "." field | "[" ["-"] integer "]" | "[" string "]" }
//! primary        = number | string | "true" | "false" | "null" | binding | variable
//!                | name "(" [ or { "," or } ] ")" | "(" or ")" | "[" [ or { "," or } ] "]"
//! ```
//!
//! Every parse function returns the subtree with its height, so the height limit holds for
//! long operator chains (which are loops here but nest in the tree) as well as for brackets.

use crate::ast::{BinaryOp, Expr, Step, UnaryOp};
use crate::error::ParseError;
use crate::formula::Formula;
use crate::functions::Function;
use crate::lexer::{Tok, Token, tokenize};

/// Longest accepted formula, in characters.
pub const MAX_FORMULA_CHARS: usize = 10_000;

/// Deepest accepted nesting: the height of the syntax tree, which also bounds the parser's
/// and the evaluator's recursion.
pub const MAX_NESTING: usize = 64;

/// Parses formula text.
///
/// # Errors
///
/// A [`ParseError`] with the position of the first problem: an empty or over-long formula,
/// an unterminated string, an unexpected token, an unknown function, a wrong number of
/// arguments, an invalid literal argument (sort order, date unit, date pattern), or nesting
/// deeper than [`MAX_NESTING`].
pub fn parse(src: &str) -> Result<Formula, ParseError> {
    if let Some((offset, _)) = src.char_indices().nth(MAX_FORMULA_CHARS) {
        return Err(ParseError::at(
            src,
            offset,
            format!("formula is too long (more than {MAX_FORMULA_CHARS} characters)"),
        ));
    }
    if src.trim().is_empty() {
        return Err(ParseError::at(src, 0, "formula is empty"));
    }
    let mut parser = Parser {
        src,
        tokens: tokenize(src)?,
        pos: 0,
        depth: 0,
    };
    let (expr, _) = parser.expression()?;
    let end = parser.peek();
    if end.tok != Tok::End {
        let message = match end.tok {
            Tok::RParen | Tok::RBracket => format!("unexpected {}", end.tok.describe()),
            _ => format!(
                "expected an operator or the end of the formula, found {}",
                end.tok.describe()
            ),
        };
        return Err(parser.error_at(end.offset, message));
    }
    Ok(Formula::new(src.to_string(), expr))
}

/// A parsed subtree and its height (a leaf is 1).
type Parsed = (Expr, usize);

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// How many `expression` and unary-operator calls are active.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with `End`, and `advance` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::End {
            self.pos += 1;
        }
        token
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, offset, message)
    }

    fn expected(&self, what: &str) -> ParseError {
        let found = self.peek();
        self.error_at(
            found.offset,
            format!("expected {what}, found {}", found.tok.describe()),
        )
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek().tok == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    /// Guards recursion: every recursive descent goes through here.
    fn nested<T>(
        &mut self,
        offset: usize,
        parse: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.too_deep(offset));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn too_deep(&self, offset: usize) -> ParseError {
        self.error_at(
            offset,
            format!("formula nests too deeply (more than {MAX_NESTING} levels)"),
        )
    }

    /// Builds a node over `children`, checking the height limit at the operator's `offset`.
    fn node(
        &self,
        offset: usize,
        expr: Expr,
        child_heights: &[usize],
    ) -> Result<Parsed, ParseError> {
        let height = child_heights.iter().copied().max().unwrap_or(0) + 1;
        if height > MAX_NESTING {
            return Err(self.too_deep(offset));
        }
        Ok((expr, height))
    }

    fn expression(&mut self) -> Result<Parsed, ParseError> {
        let offset = self.peek().offset;
        self.nested(offset, Self::or)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Name(name) if name.eq_ignore_ascii_case(word))
    }

    /// A left-associative chain of `operand (op operand)*`.
    fn chain(
        &mut self,
        operand: fn(&mut Self) -> Result<Parsed, ParseError>,
        operator: fn(&Self) -> Option<BinaryOp>,
    ) -> Result<Parsed, ParseError> {
        let (mut left, mut height) = operand(self)?;
        while let Some(op) = operator(self) {
            let offset = self.advance().offset;
            let (right, right_height) = operand(self)?;
            let expr = Expr::Binary(op, Box::new(left), Box::new(right));
            (left, height) = self.node(offset, expr, &[height, right_height])?;
        }
        Ok((left, height))
    }

    fn or(&mut self) -> Result<Parsed, ParseError> {
        self.chain(Self::and, |p| {
            (p.keyword("or") || p.peek().tok == Tok::OrOr).then_some(BinaryOp::Or)
        })
    }

    fn and(&mut self) -> Result<Parsed, ParseError> {
        self.chain(Self::not, |p| {
            (p.keyword("and") || p.peek().tok == Tok::AndAnd).then_some(BinaryOp::And)
        })
    }

    fn not(&mut self) -> Result<Parsed, ParseError> {
        if self.keyword("not") || self.peek().tok == Tok::Bang {
            let offset = self.advance().offset;
            let (operand, height) = self.nested(offset, Self::not)?;
            return self.node(
                offset,
                Expr::Unary(UnaryOp::Not, Box::new(operand)),
                &[height],
            );
        }
        self.comparison()
    }

    fn comparison_operator(&self) -> Option<BinaryOp> {
        match self.peek().tok {
            Tok::Eq => Some(BinaryOp::Eq),
            Tok::Ne => Some(BinaryOp::Ne),
            Tok::Lt => Some(BinaryOp::Lt),
            Tok::Le => Some(BinaryOp::Le),
            Tok::Gt => Some(BinaryOp::Gt),
            Tok::Ge => Some(BinaryOp::Ge),
            _ => None,
        }
    }

    fn comparison(&mut self) -> Result<Parsed, ParseError> {
        let (left, left_height) = self.concat()?;
        let Some(op) = self.comparison_operator() else {
            return Ok((left, left_height));
        };
        let offset = self.advance().offset;
        let (right, right_height) = self.concat()?;
        if self.comparison_operator().is_some() {
            return Err(self.error_at(
                self.peek().offset,
                "comparisons cannot be chained; combine them with 'and'",
            ));
        }
        let expr = Expr::Binary(op, Box::new(left), Box::new(right));
        self.node(offset, expr, &[left_height, right_height])
    }

    fn concat(&mut self) -> Result<Parsed, ParseError> {
        self.chain(Self::additive, |p| {
            (p.peek().tok == Tok::Amp).then_some(BinaryOp::Concat)
        })
    }

    fn additive(&mut self) -> Result<Parsed, ParseError> {
        self.chain(Self::multiplicative, |p| match p.peek().tok {
            Tok::Plus => Some(BinaryOp::Add),
            Tok::Minus => Some(BinaryOp::Sub),
            _ => None,
        })
    }

    fn multiplicative(&mut self) -> Result<Parsed, ParseError> {
        self.chain(Self::unary, |p| match p.peek().tok {
            Tok::Star => Some(BinaryOp::Mul),
            Tok::Slash => Some(BinaryOp::Div),
            Tok::Percent => Some(BinaryOp::Rem),
            _ => None,
        })
    }

    fn unary(&mut self) -> Result<Parsed, ParseError> {
        match self.peek().tok {
            Tok::Minus => {
                let offset = self.advance().offset;
                let (operand, height) = self.nested(offset, Self::unary)?;
                self.node(
                    offset,
                    Expr::Unary(UnaryOp::Neg, Box::new(operand)),
                    &[height],
                )
            }
            // Unary plus changes nothing, so it leaves no node.
            Tok::Plus => {
                let offset = self.advance().offset;
                self.nested(offset, Self::unary)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Parsed, ParseError> {
        let (base, base_height) = self.primary()?;
        let offset = self.peek().offset;
        let mut steps = Vec::new();
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.advance();
                    let Tok::Field(field) = self.peek().tok.clone() else {
                        return Err(self.expected("a field name after '.'"));
                    };
                    self.advance();
                    steps.push(Step::Key(field));
                }
                Tok::LBracket => {
                    self.advance();
                    steps.push(self.bracket_step()?);
                    self.expect(Tok::RBracket, "']'")?;
                }
                _ => break,
            }
        }
        if steps.is_empty() {
            return Ok((base, base_height));
        }
        self.node(offset, Expr::Path(Box::new(base), steps), &[base_height])
    }

    /// The inside of `[…]` after a value: a whole number or a string.
    fn bracket_step(&mut self) -> Result<Step, ParseError> {
        let start = self.peek().offset;
        let negative = self.peek().tok == Tok::Minus;
        if negative {
            self.advance();
        }
        match self.peek().tok.clone() {
            Tok::Str(key) if !negative => {
                self.advance();
                Ok(Step::Key(key))
            }
            Tok::Number(n) => {
                // Whole numbers below 2^53 convert to i64 exactly.
                if n.fract() != 0.0 || n >= 9_007_199_254_740_992.0 {
                    return Err(self.error_at(start, "an index must be a whole number"));
                }
                self.advance();
                let index = n as i64;
                Ok(Step::Index(if negative { -index } else { index }))
            }
            _ => Err(self.expected("a whole number or a string inside '[ ]'")),
        }
    }

    fn primary(&mut self) -> Result<Parsed, ParseError> {
        let token = self.advance();
        let leaf = |expr| Ok((expr, 1));
        match token.tok {
            Tok::Number(n) => leaf(Expr::Number(n)),
            Tok::Str(text) => leaf(Expr::Text(text)),
            Tok::Binding(index) => leaf(Expr::Binding(index)),
            Tok::Variable(name) => leaf(Expr::Variable(name)),
            Tok::LParen => {
                let inner = self.expression()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::LBracket => {
                let (items, heights) = self.list(Tok::RBracket, "']'")?;
                self.node(token.offset, Expr::Array(items), &heights)
            }
            Tok::Name(name) if self.peek().tok == Tok::LParen => self.call(&name, token.offset),
            Tok::Name(name) => match name.to_ascii_lowercase().as_str() {
                "true" => leaf(Expr::Bool(true)),
                "false" => leaf(Expr::Bool(false)),
                "null" => leaf(Expr::Null),
                "and" | "or" | "not" => Err(self.error_at(
                    token.offset,
                    format!("expected an expression, found '{name}'"),
                )),
                _ => Err(self.error_at(
                    token.offset,
                    format!(
                        "unknown name '{name}' (variables start with '$', \
                         functions need parentheses, text needs quotes)"
                    ),
                )),
            },
            other => Err(self.error_at(
                token.offset,
                format!("expected an expression, found {}", other.describe()),
            )),
        }
    }

    /// `name(args)`, with the name already read and `(` next.
    fn call(&mut self, name: &str, offset: usize) -> Result<Parsed, ParseError> {
        let Some(function) = Function::lookup(name) else {
            return Err(self.error_at(offset, format!("unknown function {name}")));
        };
        self.advance();
        let args_start = self.pos;
        let (args, heights) = self.list(Tok::RParen, "')'")?;
        if let Some(message) = function.arity_error(args.len()) {
            return Err(self.error_at(offset, message));
        }
        for (index, arg) in args.iter().enumerate() {
            if let Expr::Text(text) = arg
                && let Err(message) = function.check_literal(index, text)
            {
                let at = self.argument_offset(args_start, index);
                return Err(self.error_at(at, message));
            }
        }
        self.node(offset, Expr::Call(function, args), &heights)
    }

    /// Where the `index`-th argument of a call starts, given the position of its first token.
    /// Only called for a string-literal argument, so its token follows the right comma.
    fn argument_offset(&self, first: usize, index: usize) -> usize {
        let mut depth = 0usize;
        let mut seen = 0;
        for token in &self.tokens[first..] {
            if seen == index && depth == 0 {
                return token.offset;
            }
            match token.tok {
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                Tok::Comma if depth == 0 => seen += 1,
                _ => {}
            }
        }
        self.peek().offset
    }

    /// Comma-separated expressions up to `close`, which is consumed.
    fn list(&mut self, close: Tok, what: &str) -> Result<(Vec<Expr>, Vec<usize>), ParseError> {
        let mut items = Vec::new();
        let mut heights = Vec::new();
        if self.peek().tok == close {
            self.advance();
            return Ok((items, heights));
        }
        loop {
            let (item, height) = self.expression()?;
            items.push(item);
            heights.push(height);
            if self.peek().tok == Tok::Comma {
                self.advance();
            } else {
                self.expect(close, &format!("',' or {what}"))?;
                return Ok((items, heights));
            }
        }
    }
}
