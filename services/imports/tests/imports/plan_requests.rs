//! Malformed plan requests are INVALID_ARGUMENT, others' plans NOT_FOUND.

use tonic::Code;
use tonic_types::StatusExt;
use trellis_proto::imports::v1 as imp;
use uuid::Uuid;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn bad_plan_requests_are_invalid_arguments_or_not_found() {
    let world = World::start().await;
    let family = world.family().await;
    let bearer = admin(family.client_a);
    let mut imports = world.imports.clone();

    let empty = imports
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: String::new(),
                destination_account_id: String::new(),
                source_account_id: "not-a-uuid".into(),
                selection: vec![asset(imp::AssetKind::Unspecified, "x"), klip_ref("")],
            },
            &bearer,
        ))
        .await;
    let status = failure(empty, Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    for expected in [
        "source_account_id",
        "selection[0].kind",
        "selection[0].id",
        "selection[1].id",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    let nothing = plan(&world.imports, family.client_a, family.partner, vec![]).await;
    failure(nothing, Code::InvalidArgument);
    let itself = plan(
        &world.imports,
        family.client_a,
        family.client_a,
        vec![klip_ref(&Uuid::new_v4().to_string())],
    )
    .await;
    failure(itself, Code::InvalidArgument);
    let unknown = plan(
        &world.imports,
        family.client_a,
        family.partner,
        vec![klip_ref(&Uuid::new_v4().to_string())],
    )
    .await;
    failure(unknown, Code::NotFound);
    let long_id = imports
        .create_import_plan(call(
            imp::CreateImportPlanRequest {
                request_id: "x".repeat(200),
                destination_account_id: String::new(),
                source_account_id: family.partner.to_string(),
                selection: vec![klip_ref(&Uuid::new_v4().to_string())],
            },
            &bearer,
        ))
        .await;
    failure(long_id, Code::InvalidArgument);

    for (plan_id, etag, code) in [
        ("", "e", Code::InvalidArgument),
        ("nope", "e", Code::InvalidArgument),
        (
            Uuid::new_v4().to_string().as_str(),
            "",
            Code::InvalidArgument,
        ),
        (Uuid::new_v4().to_string().as_str(), "e", Code::NotFound),
    ] {
        let result = imports
            .execute_import_plan(call(
                imp::ExecuteImportPlanRequest {
                    request_id: String::new(),
                    plan_id: plan_id.into(),
                    etag: etag.into(),
                },
                &bearer,
            ))
            .await;
        failure(result, code);
    }
    let no_token = imports
        .get_import_plan(tonic::Request::new(imp::GetImportPlanRequest {
            id: Uuid::new_v4().to_string(),
        }))
        .await;
    failure(no_token, Code::Unauthenticated);
    let bad_page = imports
        .list_imports(call(
            imp::ListImportsRequest {
                page_token: "%%%".into(),
                ..Default::default()
            },
            &bearer,
        ))
        .await;
    failure(bad_page, Code::InvalidArgument);
}
