//! Properties over generated input: parsing never panics, printing a tree reparses to the
//! same tree, evaluating any formula over any data never panics, and the budget is exact:
//! what an evaluation spent is enough to repeat it, and one step or byte less is a budget
//! error, never a panic.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Value as Json;

use crate::ast::{BinaryOp, Expr, Step, UnaryOp};
use crate::functions::Function;
use crate::{Budget, Data, ErrorKind, EvalContext, evaluate, evaluate_within, parse};

const KEYS: &[&str] = &["a", "b", "items", "amount", "x y", "", "0", "é", "q\"uote"];

const TEXTS: &[&str] = &[
    "",
    "1",
    "2.5",
    "-3",
    "abc",
    "true",
    "FALSE",
    "2024-02-29",
    "2024-03-05T10:00:00Z",
    "29/02/2024",
    "days",
    "months",
    "years",
    "desc",
    "asc",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Q",
    "%",
    "1e999",
    "inf",
    " 7 ",
];

/// Tokens of the language, for token soup.
const TOKENS: &[&str] = &[
    "1",
    "2.5",
    "1e3",
    "0",
    "\"a\"",
    "\"\"",
    "\"",
    "true",
    "false",
    "null",
    "and",
    "or",
    "not",
    "@0",
    "@1",
    "@",
    "$x",
    "$",
    ".",
    ".a",
    "[",
    "]",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "&&",
    "||",
    "!",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "SUM",
    "IF",
    "DATE",
    "SORT",
    "SELECT",
    "GROUP",
    "ROUND",
    "TODAY",
    "FORMATDATE",
    "DATEADD",
    "CONCAT",
    "foo",
    "\"desc\"",
    "\"days\"",
    "\"%Y\"",
    "-1",
    "[0]",
    "[\"a\"]",
    "\\",
    "#",
    "é",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => "[^\\x00]{0,6}",
    ]
}

/// Texts a string literal can hold (anything but NUL).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(TEXTS).prop_map(str::to_string),
        1 => "[^\\x00]{0,8}",
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0u32..100).prop_map(f64::from),
        1 => any::<f64>().prop_filter_map("finite", |n| n.is_finite().then_some(n.abs())),
        1 => 0.0f64..1e6,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![key().prop_map(Step::Key), (-4i64..6).prop_map(Step::Index)]
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp as B;
    proptest::sample::select(vec![
        B::Or,
        B::And,
        B::Eq,
        B::Ne,
        B::Lt,
        B::Le,
        B::Gt,
        B::Ge,
        B::Concat,
        B::Add,
        B::Sub,
        B::Mul,
        B::Div,
        B::Rem,
    ])
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Expr::Null),
        any::<bool>().prop_map(Expr::Bool),
        number().prop_map(Expr::Number),
        text().prop_map(Expr::Text),
        (0usize..3).prop_map(Expr::Binding),
        proptest::sample::select(vec!["a", "b", "unset"]).prop_map(|n| Expr::Variable(n.into())),
    ]
}

/// Syntax trees the parser can produce: valid argument counts, no literal argument that the
/// parser would reject, non-negative number literals.
fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let functions: Vec<Function> = Function::all().collect();
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Expr::Array),
            (inner.clone(), proptest::collection::vec(step(), 1..4))
                .prop_map(|(base, steps)| Expr::Path(Box::new(base), steps)),
            (
                proptest::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]),
                inner.clone()
            )
                .prop_map(|(op, operand)| Expr::Unary(op, Box::new(operand))),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Binary(
                op,
                Box::new(l),
                Box::new(r)
            )),
            (
                proptest::sample::select(functions),
                proptest::collection::vec(inner, 0..4)
            )
                .prop_map(|(function, args)| call(function, args)),
        ]
    })
}

fn call(function: Function, mut args: Vec<Expr>) -> Expr {
    let (min, max) = function.arity();
    args.truncate(max);
    while args.len() < min {
        args.push(Expr::Number(1.0));
    }
    for (index, arg) in args.iter_mut().enumerate() {
        if let Expr::Text(text) = arg
            && function.check_literal(index, text).is_err()
        {
            *arg = Expr::Null;
        }
    }
    Expr::Call(function, args)
}

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        number().prop_map(|n| serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number)),
        (-50i64..50).prop_map(Json::from),
        text().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

fn csv() -> impl Strategy<Value = Data> {
    (
        proptest::collection::vec(key(), 0..4),
        proptest::collection::vec(proptest::collection::vec(text(), 0..5), 0..5),
    )
        .prop_map(|(headers, rows)| Data::Csv { headers, rows })
}

fn context() -> impl Strategy<Value = EvalContext> {
    (json(), csv(), text(), -100_000i64..100_000).prop_map(|(json, csv, a, seconds)| {
        let now =
            chrono::DateTime::from_timestamp(1_700_000_000 + seconds * 1000, 0).unwrap_or_default();
        let mut ctx = EvalContext::new(now);
        ctx.bindings = vec![Some(Arc::new(Data::Json(json))), Some(Arc::new(csv)), None];
        ctx.variables.insert("a".into(), a);
        ctx.variables.insert("b".into(), "3".into());
        ctx
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn parse_never_panics_on_token_soup(
        tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..40),
        spaced in any::<bool>(),
    ) {
        let src = tokens.join(if spaced { " " } else { "" });
        let _ = parse(&src);
    }

    #[test]
    fn printed_tree_reparses_to_the_same_tree(tree in expr()) {
        let printed = tree.to_string();
        let reparsed = parse(&printed)
            .unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
        prop_assert_eq!(reparsed.expr(), &tree, "printed as {:?}", printed);
    }

    #[test]
    fn evaluation_never_panics(tree in expr(), ctx in context()) {
        let formula = parse(&tree.to_string()).unwrap();
        let _ = evaluate(&formula, &ctx);
    }

    #[test]
    fn a_spent_budget_is_enough_and_one_less_is_a_budget_error(
        tree in expr(),
        ctx in context(),
    ) {
        let formula = parse(&tree.to_string()).unwrap();
        let (result, spent) = evaluate_within(&formula, &ctx, &Budget::default());
        let exact = Budget { max_steps: spent.steps, max_bytes: spent.bytes, cancel: None };
        let (again, respent) = evaluate_within(&formula, &ctx, &exact);
        prop_assert_eq!(&again, &result);
        prop_assert_eq!(respent, spent);

        if spent.steps > 0 {
            let short = Budget { max_steps: spent.steps - 1, ..Budget::default() };
            let (short, _) = evaluate_within(&formula, &ctx, &short);
            prop_assert_eq!(short.map_err(|e| e.kind()), Err(ErrorKind::Steps));
        }
        if spent.bytes > 0 {
            let short = Budget { max_bytes: spent.bytes - 1, ..Budget::default() };
            let (short, used) = evaluate_within(&formula, &ctx, &short);
            prop_assert_eq!(short.map_err(|e| e.kind()), Err(ErrorKind::Bytes));
            prop_assert!(used.bytes < spent.bytes);
        }
    }

    #[test]
    fn any_budget_ends_in_a_value_or_an_error(
        tree in expr(),
        ctx in context(),
        max_steps in 0u64..300,
        max_bytes in 0u64..3000,
    ) {
        let formula = parse(&tree.to_string()).unwrap();
        let budget = Budget { max_steps, max_bytes, cancel: None };
        let (result, used) = evaluate_within(&formula, &ctx, &budget);
        // Bytes are checked before they are counted, so they never pass the budget.
        prop_assert!(used.bytes <= max_bytes);
        match result {
            Ok(_) => prop_assert!(used.steps <= max_steps),
            Err(error) if error.kind() == ErrorKind::Steps => {
                prop_assert!(used.steps > max_steps);
            }
            Err(error) => prop_assert_ne!(error.kind(), ErrorKind::Cancelled),
        }
    }

    #[test]
    fn concat_costs_the_same_for_every_further_term(
        text in ".{0,50}",
        terms in 1usize..60,
    ) {
        let mut ctx = EvalContext::new(chrono::DateTime::UNIX_EPOCH);
        ctx.variables.insert("t".into(), text);
        let cost = |terms: usize| {
            let src = format!("CONCAT({})", vec!["$t"; terms].join(", "));
            evaluate_within(&parse(&src).unwrap(), &ctx, &Budget::default()).1
        };
        let (a, b, c) = (cost(terms), cost(terms + 1), cost(terms + 2));
        prop_assert_eq!(c.bytes - b.bytes, b.bytes - a.bytes);
        prop_assert_eq!(c.steps - b.steps, b.steps - a.steps);
    }
}
