//! Accounts and families, and what the library resolves in them: company properties and
//! variables.

use super::*;

/// A new account, with `admin@test`, `editor@test` and `viewer@test` as its members.
pub async fn account(
    library: &TracedChannel,
    kind: lib::AccountKind,
    parent: Option<Uuid>,
) -> Uuid {
    members::enrolled_account(library, kind, parent).await
}

/// A partner with [`AGENCY_ADMIN`] as an admin, and two clients.
pub async fn family(library: &TracedChannel) -> Family {
    let partner = account(library, lib::AccountKind::Partner, None).await;
    members::add(library, partner, AGENCY_ADMIN, Role::Admin).await;
    Family {
        partner,
        client_a: account(library, lib::AccountKind::Client, Some(partner)).await,
        client_b: account(library, lib::AccountKind::Client, Some(partner)).await,
    }
}

pub async fn company_property(library: &Library, account: Uuid, name: &str, value: &str) {
    library
        .clone()
        .set_company_property(call(
            lib::SetCompanyPropertyRequest {
                request_id: String::new(),
                property: Some(lib::CompanyProperty {
                    account_id: String::new(),
                    name: name.into(),
                    value: value.into(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("SetCompanyProperty");
}

pub async fn variable(library: &Library, account: Uuid, name: &str, default_value: &str) {
    library
        .clone()
        .create_variable(call(
            lib::CreateVariableRequest {
                request_id: String::new(),
                variable: Some(lib::Variable {
                    name: name.into(),
                    default_value: default_value.into(),
                    ..Default::default()
                }),
            },
            &admin(account),
        ))
        .await
        .expect("CreateVariable");
}
