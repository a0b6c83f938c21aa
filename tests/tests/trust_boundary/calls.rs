//! The calls both tests make, as the callers they name.

use tonic::Code;
use trellis_e2e::calls::{
    Library, create_data_source, create_klip, data_source, number_of, total_klip,
};
use trellis_e2e::cluster::Clients;
use trellis_e2e::world::create_account_as;
use trellis_platform::auth::Role;
use trellis_platform::client::authorized;
use trellis_proto::imports::v1 as imports;
use trellis_proto::library::v1 as library;
use trellis_proto::refresh::v1 as refresh;
use trellis_testkit::{eventually, members};
use uuid::Uuid;

use crate::{AGENCY, Signers, WAIT};

/// A partner and its client, made by the operator of `signers`, and the agency's admin (a
/// member of the partner, and so an admin of its clients, I15) signed into each.
pub(crate) struct Family {
    pub(crate) partner: Uuid,
    pub(crate) client: Uuid,
    pub(crate) agency_in_partner: String,
    pub(crate) agency_in_client: String,
}

impl Family {
    pub(crate) async fn create(clients: &Clients, signers: &Signers) -> Self {
        let library = &clients.library_channel;
        let operator = &signers.operator;
        let account = |kind, parent| create_account_as(library, operator, kind, parent, "Account");
        let partner = account(library::AccountKind::Partner, None).await;
        let client = account(library::AccountKind::Client, Some(partner)).await;
        members::add_as(library, operator, partner, AGENCY, Role::Admin).await;
        Self {
            partner,
            client,
            agency_in_partner: signers.user(partner, AGENCY, Role::Admin),
            agency_in_client: signers.user(client, AGENCY, Role::Admin),
        }
    }

    /// The partner's data source `master` and a Klip over it, imported into the client;
    /// returns the master as created and the instance Klip's id.
    pub(crate) async fn import_master(
        &self,
        clients: &mut Clients,
        master: library::DataSource,
    ) -> (library::DataSource, String) {
        let master = create_data_source(&clients.library, &self.agency_in_partner, master)
            .await
            .expect("the master data source");
        let klip = create_klip(
            &clients.library,
            &self.agency_in_partner,
            total_klip(self.partner, &master.id),
        )
        .await;
        let instance_klip = import_klip(
            clients,
            &self.agency_in_client,
            &self.agency_in_partner,
            self.partner,
            self.client,
            &klip,
        )
        .await;
        (master, instance_klip)
    }
}

/// The data source "Sales" of `account`: JSON from `url`, with `auth` if any.
pub(crate) fn source(
    account: Uuid,
    url: &str,
    auth: Option<library::data_source_auth::Method>,
) -> library::DataSource {
    library::DataSource {
        auth: auth.map(|method| library::DataSourceAuth {
            kind: 0,
            method: Some(method),
        }),
        ..data_source(Some(account), "Sales", url)
    }
}

/// Imports the partner's Klip into the client as the agency's admin signed into it (`token`;
/// `partner_token` lists the instances); returns the instance Klip's id.
async fn import_klip(
    clients: &mut Clients,
    token: &str,
    partner_token: &str,
    partner: Uuid,
    client: Uuid,
    klip: &str,
) -> String {
    let plan = clients
        .imports
        .create_import_plan(authorized(
            imports::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: client.to_string(),
                source_account_id: partner.to_string(),
                selection: vec![imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: klip.into(),
                }],
            },
            token,
        ))
        .await
        .expect("a plan")
        .into_inner()
        .plan
        .unwrap();
    let import = clients
        .imports
        .execute_import_plan(authorized(
            imports::ExecuteImportPlanRequest {
                request_id: Uuid::new_v4().to_string(),
                plan_id: plan.id,
                etag: plan.etag,
            },
            token,
        ))
        .await
        .expect("the import")
        .into_inner()
        .import
        .unwrap();
    assert_eq!(
        import.state,
        imports::ImportState::Succeeded as i32,
        "{import:?}"
    );
    let instances = clients
        .imports
        .list_instances(authorized(
            imports::ListInstancesRequest {
                master: Some(imports::AssetRef {
                    kind: imports::AssetKind::Klip as i32,
                    id: klip.into(),
                }),
                account_id: client.to_string(),
                ..Default::default()
            },
            partner_token,
        ))
        .await
        .expect("the instances")
        .into_inner()
        .instances;
    instances.first().expect("one instance").instance_id.clone()
}

/// What the Klip's first component shows to the caller of `token`, once it renders.
pub(crate) async fn klip_total(library: &Library, token: &str, klip: &str) -> Option<f64> {
    let rendered = library
        .clone()
        .render_klip(authorized(
            library::RenderKlipRequest {
                klip_id: klip.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .ok()?
        .into_inner()
        .rendered_klip?;
    number_of(rendered.components.first()?)
}

/// Waits until the Klip shows `total` to the caller of `token`.
pub(crate) async fn wait_for_total(
    library: &Library,
    token: &str,
    klip: &str,
    total: f64,
    what: &str,
) {
    eventually(what, WAIT, || async move {
        (klip_total(library, token, klip).await == Some(total)).then_some(())
    })
    .await
}

pub(crate) async fn refresh_now(clients: &mut Clients, token: &str, data_source: &str) {
    clients
        .refresh
        .refresh_now(authorized(
            refresh::RefreshNowRequest {
                request_id: String::new(),
                data_source_id: data_source.into(),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("RefreshNow");
}

pub(crate) fn code<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(answer) => panic!("expected a refusal, got {answer:?}"),
        Err(status) => (status.code(), format!("{status:?}")),
    }
}
