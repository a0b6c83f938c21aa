//! Monthly sales per company, as JSON: the demo's third-party API.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::Path;
use axum::routing::get;
use tokio::net::TcpListener;

/// Serves until the process ends; returns the bound address through `ready`.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/companies/{company}/sales.json", get(sales));
    axum::serve(listener, app).await?;
    Ok(())
}

/// Binds `address` and serves in the background; returns the bound address.
pub async fn spawn(address: SocketAddr) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener));
    Ok(bound)
}

async fn sales(Path(company): Path<String>) -> Json<serde_json::Value> {
    Json(sales_of(&company))
}

/// The same figures for the same company every time, different for each company.
pub fn sales_of(company: &str) -> serde_json::Value {
    let seed = company.bytes().fold(17u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    let months: Vec<serde_json::Value> = (1..=6)
        .map(|month| {
            let amount = 1000 + (seed.wrapping_mul(month * 7919) % 9000);
            serde_json::json!({ "month": format!("2026-{month:02}"), "amount": amount })
        })
        .collect();
    serde_json::json!({ "company": company, "currency": "USD", "sales": months })
}
