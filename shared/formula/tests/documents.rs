//! Evaluation over a realistic JSON document and a CSV table.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

mod common;

use common::{context, csv_table, eval_error_in, eval_in};
use serde_json::json;
use trellis_formula::{Data, EvalContext};

/// An orders API response, the kind a Klip binds to.
fn shop() -> EvalContext {
    let orders = json!({
        "store": {"name": "Corner Shop", "currency": "EUR"},
        "orders": [
            {
                "id": "A-1", "placed": "2024-03-01T09:00:00Z", "status": "paid",
                "customer": {"name": "Ada", "country": "UK"},
                "lines": [
                    {"sku": "tea", "qty": 2, "price": 4.5},
                    {"sku": "mug", "qty": 1, "price": "12.00"}
                ]
            },
            {
                "id": "A-2", "placed": "2024-03-03T15:30:00Z", "status": "refunded",
                "customer": {"name": "Grace", "country": "US"},
                "lines": [{"sku": "tea", "qty": 1, "price": 4.5}],
                "discount": 1
            },
            {
                "id": "A-3", "placed": "2024-03-10T11:00:00Z", "status": "paid",
                "customer": {"name": "Alan", "country": "UK"},
                "lines": [],
                "field with space": "yes"
            }
        ]
    });
    context(vec![Some(Data::Json(orders))], &[("status", "paid")])
}

#[test]
fn json_paths_map_over_arrays() {
    let ctx = shop();
    assert_eq!(eval_in(&ctx, "@0.store.name"), json!(["Corner Shop"]));
    assert_eq!(eval_in(&ctx, "@0.orders.id"), json!(["A-1", "A-2", "A-3"]));
    assert_eq!(
        eval_in(&ctx, "@0.orders.customer.name"),
        json!(["Ada", "Grace", "Alan"])
    );
    assert_eq!(
        eval_in(&ctx, "@0.orders.lines.sku"),
        json!(["tea", "mug", "tea"])
    );
    assert_eq!(eval_in(&ctx, "@0.orders[1].id"), json!(["A-2"]));
    assert_eq!(
        eval_in(&ctx, "@0.orders[-1].customer.name"),
        json!(["Alan"])
    );
    assert_eq!(eval_in(&ctx, "@0.orders.id[0]"), json!(["A-1"]));
    assert_eq!(eval_in(&ctx, "@0.orders[7].id"), json!([null]));
    // A missing field is null, keeping the list aligned with the orders.
    assert_eq!(eval_in(&ctx, "@0.orders.discount"), json!([null, 1, null]));
    assert_eq!(
        eval_in(&ctx, "@0.orders[\"field with space\"]"),
        json!([null, null, "yes"])
    );
    assert_eq!(
        eval_in(&ctx, "@0.orders.id.deeper"),
        json!([null, null, null])
    );
    assert_eq!(eval_in(&ctx, "@0.nothing"), json!([null]));
    assert_eq!(
        eval_in(&ctx, "@0.store"),
        json!([{"name": "Corner Shop", "currency": "EUR"}])
    );
}

#[test]
fn json_aggregates_and_filters() {
    let ctx = shop();
    assert_eq!(eval_in(&ctx, "COUNT(@0.orders)"), json!([3]));
    assert_eq!(
        eval_in(&ctx, "SUM(@0.orders.lines.qty * @0.orders.lines.price)"),
        json!([25.5])
    );
    assert_eq!(
        eval_in(&ctx, "SELECT(@0.orders.id, @0.orders.status = $status)"),
        json!(["A-1", "A-3"])
    );
    assert_eq!(
        eval_in(
            &ctx,
            "(SELECT(@0.orders, @0.orders.customer.country = \"UK\")).customer.name"
        ),
        json!(["Ada", "Alan"])
    );
    assert_eq!(
        eval_in(&ctx, "GROUP(@0.orders.customer.country)"),
        json!(["UK", "US"])
    );
    assert_eq!(
        eval_in(&ctx, "COUNTBY(@0.orders.customer.country)"),
        json!([2, 1])
    );
    assert_eq!(
        eval_in(&ctx, "SUMBY(@0.orders.lines.qty, @0.orders.lines.sku)"),
        json!([3, 1])
    );
    assert_eq!(
        eval_in(&ctx, "FORMATDATE(MAX(DATE(@0.orders.placed)), \"%d %b\")"),
        json!(["10 Mar"])
    );
    assert_eq!(
        eval_in(&ctx, "DATEDIFF(@0.orders.placed, NOW(), \"days\")"),
        json!([14, 11, 4])
    );
    assert_eq!(
        eval_in(
            &ctx,
            "@0.orders.id & \" (\" & @0.orders.customer.name & \")\""
        ),
        json!(["A-1 (Ada)", "A-2 (Grace)", "A-3 (Alan)"])
    );
    assert_eq!(
        eval_in(&ctx, "SORT(@0.orders.customer.name, \"desc\")"),
        json!(["Grace", "Alan", "Ada"])
    );
    assert_eq!(
        eval_in(
            &ctx,
            "@0.store.currency & \" \" & ROUND(AVERAGE(@0.orders.lines.price), 2)"
        ),
        json!(["EUR 7"])
    );
}

#[test]
fn json_errors_name_the_value() {
    let ctx = shop();
    assert_eq!(
        eval_error_in(&ctx, "SUM(@0.orders.id)"),
        "SUM: expected a number, got text \"A-1\""
    );
    assert_eq!(
        eval_error_in(&ctx, "@0.orders.lines.qty + @0.orders.id"),
        "operator '+': expected a number, got text \"A-1\""
    );
    assert_eq!(
        eval_error_in(
            &ctx,
            "@0.orders.lines.qty * SELECT(@0.orders.discount, [true, true, false])"
        ),
        "operator '*': cannot combine a list of 3 values with a list of 2 \
         (lists must have the same length, or one value)"
    );
    assert_eq!(
        eval_error_in(&ctx, "@0.orders.customer * 2"),
        "operator '*': expected a number, got an object"
    );
}

#[test]
fn json_root_arrays_and_scalars() {
    let ctx = context(
        vec![
            Some(Data::Json(json!([{"v": 1}, {"v": 2}, [{"v": 3}]]))),
            Some(Data::Json(json!(42))),
            Some(Data::Json(json!([[1, 2], [3, [4]]]))),
        ],
        &[],
    );
    assert_eq!(eval_in(&ctx, "@0.v"), json!([1, 2, 3]));
    assert_eq!(eval_in(&ctx, "@0[2]"), json!([{"v": 3}]));
    assert_eq!(eval_in(&ctx, "@1 * 2"), json!([84]));
    assert_eq!(eval_in(&ctx, "@2"), json!([1, 2, 3, 4]));
    assert_eq!(
        eval_error_in(&ctx, "@0.v + @2"),
        "operator '+': cannot combine a list of 3 values with a list of 4 \
         (lists must have the same length, or one value)"
    );
}

const SALES_CSV: &str = "\
Region,Rep,Amount,Closed On,Won
North,Ada,1200.50,2024-01-15,true
South,Grace,800,2024-02-01,false
North,Alan,,2024-02-20,true
\"East, Far\",\"Linus \"\"L\"\" T\",300,2024-03-01,TRUE
";

fn sales() -> EvalContext {
    let data = csv_table(SALES_CSV);
    context(vec![Some(data)], &[("minimum", "500")])
}

#[test]
fn csv_columns_and_rows() {
    let ctx = sales();
    assert_eq!(
        eval_in(&ctx, "@0.Rep"),
        json!(["Ada", "Grace", "Alan", "Linus \"L\" T"])
    );
    assert_eq!(eval_in(&ctx, "@0[\"Closed On\"][0]"), json!(["2024-01-15"]));
    assert_eq!(eval_in(&ctx, "@0[1].Rep"), json!(["Grace"]));
    assert_eq!(
        eval_in(&ctx, "@0.Amount"),
        json!(["1200.50", "800", null, "300"])
    );
    assert_eq!(eval_in(&ctx, "@0.Missing"), json!([null, null, null, null]));
    assert_eq!(
        eval_in(&ctx, "@0[0]"),
        json!([{"Region": "North", "Rep": "Ada", "Amount": "1200.50", "Closed On": "2024-01-15", "Won": "true"}])
    );
    assert_eq!(eval_in(&ctx, "COUNT(@0)"), json!([4]));
    assert_eq!(eval_in(&ctx, "COUNT(@0.Amount)"), json!([3]));
}

#[test]
fn csv_cells_are_read_as_numbers_booleans_and_dates() {
    let ctx = sales();
    assert_eq!(eval_in(&ctx, "SUM(@0.Amount)"), json!([2300.5]));
    assert_eq!(
        eval_in(&ctx, "@0.Amount * 2"),
        json!([2401, 1600, null, 600])
    );
    assert_eq!(
        eval_in(&ctx, "NUMBER(@0.Amount)"),
        json!([1200.5, 800, null, 300])
    );
    assert_eq!(
        eval_in(&ctx, "SELECT(@0.Rep, @0.Amount >= $minimum)"),
        json!(["Ada", "Grace"])
    );
    assert_eq!(
        eval_in(&ctx, "SELECT(@0.Rep, @0.Won)"),
        json!(["Ada", "Alan", "Linus \"L\" T"])
    );
    assert_eq!(
        eval_in(&ctx, "COUNT(SELECT(@0.Rep, @0.Won = true))"),
        json!([3])
    );
    assert_eq!(
        eval_in(&ctx, "SORT(@0.Amount, \"desc\")"),
        json!(["1200.50", "800", "300", null])
    );
    assert_eq!(
        eval_in(&ctx, "MONTH(@0[\"Closed On\"])"),
        json!([1, 2, 2, 3])
    );
    assert_eq!(
        eval_in(
            &ctx,
            "SELECT(@0.Rep, @0[\"Closed On\"] >= DATE(\"2024-02-01\"))"
        ),
        json!(["Grace", "Alan", "Linus \"L\" T"])
    );
    assert_eq!(
        eval_in(&ctx, "GROUP(@0.Region)"),
        json!(["North", "South", "East, Far"])
    );
    assert_eq!(
        eval_in(&ctx, "SUMBY(@0.Amount, @0.Region)"),
        json!([1200.5, 800, 300])
    );
    assert_eq!(
        eval_error_in(&ctx, "SUM(@0.Rep)"),
        "SUM: expected a number, got text \"Ada\""
    );
}

#[test]
fn csv_short_rows_and_duplicate_headers() {
    let data = csv_table("a,b,a\n1,2,3\n4\n");
    let ctx = context(vec![Some(data)], &[]);
    assert_eq!(eval_in(&ctx, "@0.a"), json!(["1", "4"]));
    assert_eq!(eval_in(&ctx, "@0.b"), json!(["2", null]));
    assert_eq!(eval_in(&ctx, "@0[1]"), json!([{"a": "4", "b": null}]));
}
