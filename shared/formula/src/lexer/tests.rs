//! Tokens of formula text, and the errors at their offsets.

use super::*;

fn toks(src: &str) -> Vec<Tok> {
    tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
}

fn error(src: &str) -> (usize, String) {
    let e = tokenize(src).unwrap_err();
    (e.offset, e.message)
}

#[test]
fn reads_numbers() {
    assert_eq!(
        toks("1 2.5 1e3 2E-2 7."),
        [
            Tok::Number(1.0),
            Tok::Number(2.5),
            Tok::Number(1000.0),
            Tok::Number(0.02),
            Tok::Number(7.0),
            Tok::Dot,
            Tok::End
        ]
    );
    assert_eq!(
        toks("2e"),
        [Tok::Number(2.0), Tok::Name("e".into()), Tok::End]
    );
}

#[test]
fn reads_strings_with_escapes() {
    assert_eq!(
        toks(r#""a\"b\\c\n\t\r\/\u00e9""#),
        [Tok::Str("a\"b\\c\n\t\r/é".into()), Tok::End]
    );
}

#[test]
fn reads_paths_with_field_names_after_dots() {
    assert_eq!(
        toks("@0.2024.größe[0]"),
        [
            Tok::Binding(0),
            Tok::Dot,
            Tok::Field("2024".into()),
            Tok::Dot,
            Tok::Field("größe".into()),
            Tok::LBracket,
            Tok::Number(0.0),
            Tok::RBracket,
            Tok::End
        ]
    );
}

#[test]
fn reads_operators() {
    assert_eq!(
        toks("= == != <> < <= > >= && || ! & % $x"),
        [
            Tok::Eq,
            Tok::Eq,
            Tok::Ne,
            Tok::Ne,
            Tok::Lt,
            Tok::Le,
            Tok::Gt,
            Tok::Ge,
            Tok::AndAnd,
            Tok::OrOr,
            Tok::Bang,
            Tok::Amp,
            Tok::Percent,
            Tok::Variable("x".into()),
            Tok::End
        ]
    );
}

#[test]
fn reports_errors_with_offsets() {
    assert_eq!(error("1 + \"abc"), (4, "unterminated string".into()));
    assert_eq!(
        error("\"a\\qb\""),
        (2, "invalid escape '\\q' in string".into())
    );
    assert_eq!(
        error("\"\\u12\""),
        (
            1,
            "invalid unicode escape (expected \\u and 4 hex digits of a character)".into()
        )
    );
    assert_eq!(
        error("\"\\ud800\""),
        (
            1,
            "invalid unicode escape (expected \\u and 4 hex digits of a character)".into()
        )
    );
    assert_eq!(error("\"a\\u0000\""), (2, NUL_IN_STRING.into()));
    assert_eq!(error("\"ab\0\""), (3, NUL_IN_STRING.into()));
    assert_eq!(error("1 # 2"), (2, "unexpected character '#'".into()));
    assert_eq!(
        error("a | b"),
        (2, "unexpected character '|' (did you mean '||'?)".into())
    );
    assert_eq!(
        error("@x"),
        (0, "expected a binding number after '@'".into())
    );
    assert_eq!(
        error("@1000"),
        (0, "binding number is too large (at most 999)".into())
    );
    assert_eq!(
        error("$1"),
        (0, "expected a variable name after '$'".into())
    );
    assert_eq!(
        error(&format!("1{}", "0".repeat(400))),
        (0, "number is too large".into())
    );
}
