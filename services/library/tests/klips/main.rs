//! Klips (formulas parsed at save, bindings, derived variables, versions) and dashboards
//! (ordered Klips, layouts).
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod dashboards;
mod definitions;

use common::{
    dashboard_of, failure, json_source, klip_of, mask, start, start_standard, violations, with,
};
use tonic::Code;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
use uuid::Uuid;

fn create(klip: pb::Klip) -> pb::CreateKlipRequest {
    pb::CreateKlipRequest {
        request_id: String::new(),
        klip: Some(klip),
    }
}

trait WithId {
    fn with_id(self, id: &str, etag: &str) -> Self;
}

impl WithId for pb::UpdateKlipRequest {
    fn with_id(mut self, id: &str, etag: &str) -> Self {
        let klip = self.klip.get_or_insert_default();
        klip.id = id.into();
        klip.etag = etag.into();
        self
    }
}
