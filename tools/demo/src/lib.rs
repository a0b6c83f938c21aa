//! The demo behind `make run DEMO=1` and the README walkthrough.
//!
//! - [`data_server`]: a small HTTP API of monthly sales per company, the third party that the
//!   demo's dynamic data source reads (`/companies/{companyID}/sales.json`).
//! - [`seed`]: a partner with a `companyID` variable, a dynamic data source on
//!   `{props.companyID}`, a Klip and a dashboard using it, and two clients whose company
//!   properties give each its own `companyID` (seed 000's Company Properties walkthrough).
//!   It returns the ids and development tokens the walkthrough uses as shell variables.

pub mod data_server;
pub mod seed;
