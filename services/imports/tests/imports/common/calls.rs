//! Calls to the import service: plans, imports, instances, updates.

use tonic_types::{PreconditionViolation, StatusExt};

use super::*;

pub fn asset(kind: imp::AssetKind, id: &str) -> imp::AssetRef {
    imp::AssetRef {
        kind: kind as i32,
        id: id.into(),
    }
}

pub fn dashboard_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::Dashboard, id)
}

pub fn klip_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::Klip, id)
}

pub fn data_source_ref(id: &str) -> imp::AssetRef {
    asset(imp::AssetKind::DataSource, id)
}

/// A plan made by the agency's admin signed into the destination.
pub async fn plan(
    imports: &Imports,
    destination: Uuid,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> Result<imp::ImportPlan, Status> {
    plan_as(imports, &agency(destination), source, selection).await
}

/// A plan made by `bearer`, signed into the destination.
pub async fn plan_as(
    imports: &Imports,
    bearer: &str,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> Result<imp::ImportPlan, Status> {
    let request = imp::CreateImportPlanRequest {
        request_id: request_id(),
        destination_account_id: String::new(),
        source_account_id: source.to_string(),
        selection,
    };
    create_plan(imports, bearer, request).await
}

pub async fn create_plan(
    imports: &Imports,
    bearer: &str,
    request: imp::CreateImportPlanRequest,
) -> Result<imp::ImportPlan, Status> {
    let answer = imports
        .clone()
        .create_import_plan(call(request, bearer))
        .await?;
    Ok(answer.into_inner().plan.unwrap())
}

/// Executes `plan` as the agency's admin signed into `destination`.
pub async fn execute(
    imports: &Imports,
    destination: Uuid,
    plan: &imp::ImportPlan,
    request_id: &str,
) -> Result<imp::Import, Status> {
    execute_as(imports, &agency(destination), plan, request_id).await
}

pub async fn execute_as(
    imports: &Imports,
    bearer: &str,
    plan: &imp::ImportPlan,
    request_id: &str,
) -> Result<imp::Import, Status> {
    let reviewed = imp::ExecuteImportPlanRequest {
        request_id: request_id.into(),
        plan_id: plan.id.clone(),
        etag: plan.etag.clone(),
    };
    let mut imports = imports.clone();
    let answer = imports.execute_import_plan(call(reviewed, bearer)).await?;
    Ok(answer.into_inner().import.unwrap())
}

/// Plans and executes an import that must succeed, as the agency's admin.
pub async fn import(
    imports: &Imports,
    destination: Uuid,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> imp::Import {
    import_as(imports, &agency(destination), source, selection).await
}

/// Plans and executes an import that must succeed, as `bearer`.
pub async fn import_as(
    imports: &Imports,
    bearer: &str,
    source: Uuid,
    selection: Vec<imp::AssetRef>,
) -> imp::Import {
    let plan = plan_as(imports, bearer, source, selection)
        .await
        .expect("CreateImportPlan");
    let done = execute_as(imports, bearer, &plan, &request_id())
        .await
        .expect("ExecuteImportPlan");
    assert_succeeded(&done);
    done
}

pub fn assert_succeeded(import: &imp::Import) {
    assert_eq!(
        import.state(),
        imp::ImportState::Succeeded,
        "the import succeeds: {}",
        import.error
    );
}

/// The instance the import made of `master`.
pub fn instance_of(import: &imp::Import, master: &str) -> String {
    import
        .mappings
        .iter()
        .find(|m| m.source_id == master)
        .unwrap_or_else(|| panic!("{master} was imported"))
        .destination_id
        .clone()
}

pub async fn get_import(imports: &Imports, bearer: &str, id: &str) -> Result<imp::Import, Status> {
    let request = imp::GetImportRequest { id: id.into() };
    let answer = imports.clone().get_import(call(request, bearer)).await?;
    Ok(answer.into_inner().import.unwrap())
}

/// The imports `bearer` lists with `request`.
pub async fn list_imports(
    imports: &Imports,
    bearer: &str,
    request: imp::ListImportsRequest,
) -> imp::ListImportsResponse {
    imports
        .clone()
        .list_imports(call(request, bearer))
        .await
        .expect("ListImports")
        .into_inner()
}

/// ReimportInstance of `instance` in `mode` under `request_id`, as `bearer`.
pub async fn reimport(
    imports: &Imports,
    bearer: &str,
    instance: imp::AssetRef,
    mode: imp::ReimportMode,
    request_id: &str,
) -> Result<imp::Import, Status> {
    let request = imp::ReimportInstanceRequest {
        request_id: request_id.into(),
        instance: Some(instance),
        mode: mode as i32,
    };
    let answer = imports
        .clone()
        .reimport_instance(call(request, bearer))
        .await?;
    Ok(answer.into_inner().import.unwrap())
}

/// A re-import that must succeed, under a new request id.
pub async fn reimport_ok(
    imports: &Imports,
    bearer: &str,
    instance: imp::AssetRef,
    mode: imp::ReimportMode,
) -> imp::Import {
    let done = reimport(imports, bearer, instance, mode, &request_id())
        .await
        .expect("ReimportInstance");
    assert_succeeded(&done);
    done
}

/// DeleteInstances of `master`'s instances in `accounts` under `request_id`.
pub fn deletion(
    master: imp::AssetRef,
    accounts: &[Uuid],
    request_id: &str,
) -> imp::DeleteInstancesRequest {
    imp::DeleteInstancesRequest {
        request_id: request_id.into(),
        master: Some(master),
        account_ids: accounts.iter().map(Uuid::to_string).collect(),
    }
}

pub async fn delete_instances(
    imports: &Imports,
    bearer: &str,
    request: imp::DeleteInstancesRequest,
) -> Result<Vec<imp::DeletedInstance>, Status> {
    let answer = imports
        .clone()
        .delete_instances(call(request, bearer))
        .await?;
    Ok(answer.into_inner().deleted_instances)
}

/// The status of a call that must fail with `code`.
pub fn failure<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The fields an INVALID_ARGUMENT names.
pub fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("a BadRequest: {status:?}"))
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// The violations of a call that must fail with FAILED_PRECONDITION.
pub fn preconditions<T: std::fmt::Debug>(result: Result<T, Status>) -> Vec<PreconditionViolation> {
    let status = failure(result, Code::FailedPrecondition);
    status
        .get_details_precondition_failure()
        .unwrap_or_else(|| panic!("a PreconditionFailure: {status:?}"))
        .violations
}

/// A page of the instances of a master, as `bearer` lists them.
pub async fn list_instances(
    imports: &Imports,
    bearer: &str,
    request: imp::ListInstancesRequest,
) -> imp::ListInstancesResponse {
    imports
        .clone()
        .list_instances(call(request, bearer))
        .await
        .expect("ListInstances")
        .into_inner()
}

/// The instances of a master, as its account's admin lists them.
pub async fn instances(
    imports: &Imports,
    master_account: Uuid,
    master: imp::AssetRef,
) -> Vec<imp::Instance> {
    instances_in(imports, master_account, master, None).await
}

/// The instances of a master in `account` (all accounts: `None`), as the master's admin
/// lists them.
pub async fn instances_in(
    imports: &Imports,
    master_account: Uuid,
    master: imp::AssetRef,
    account: Option<Uuid>,
) -> Vec<imp::Instance> {
    let request = imp::ListInstancesRequest {
        master: Some(master),
        account_id: account.map(|a| a.to_string()).unwrap_or_default(),
        ..Default::default()
    };
    list_instances(imports, &admin(master_account), request)
        .await
        .instances
}

pub async fn get_instance(
    imports: &Imports,
    bearer: &str,
    instance: imp::AssetRef,
) -> Result<imp::Instance, Status> {
    let request = imp::GetInstanceRequest {
        instance: Some(instance),
    };
    let answer = imports.clone().get_instance(call(request, bearer)).await?;
    Ok(answer.into_inner().instance.unwrap())
}

pub async fn status_of(imports: &Imports, account: Uuid, instance: imp::AssetRef) -> imp::Instance {
    get_instance(imports, &admin(account), instance)
        .await
        .expect("GetInstance")
}

/// Everything an UpdateInstances stream sent.
#[derive(Debug, Default)]
pub struct UpdateStream {
    pub progress: Vec<imp::UpdateProgress>,
    pub results: Vec<imp::InstanceUpdateResult>,
    pub summary: Option<imp::UpdateSummary>,
}

impl UpdateStream {
    pub fn result(&self, instance: &str) -> &imp::InstanceUpdateResult {
        self.results
            .iter()
            .find(|r| r.instance_id == instance)
            .unwrap_or_else(|| panic!("a result for {instance}: {:?}", self.results))
    }
}

pub async fn update_instances(
    imports: &Imports,
    master_account: Uuid,
    request: imp::UpdateInstancesRequest,
) -> Result<UpdateStream, Status> {
    use imp::update_instances_response::Event;
    let mut stream = imports
        .clone()
        .update_instances(call(request, &admin(master_account)))
        .await?
        .into_inner();
    let mut seen = UpdateStream::default();
    while let Some(message) = stream.message().await? {
        match message.event {
            Some(Event::Progress(progress)) => seen.progress.push(progress),
            Some(Event::Result(result)) => seen.results.push(result),
            Some(Event::Summary(summary)) => seen.summary = Some(summary),
            None => {}
        }
    }
    Ok(seen)
}

pub fn update(master: &str, request_id: &str, dry_run: bool) -> imp::UpdateInstancesRequest {
    imp::UpdateInstancesRequest {
        request_id: request_id.into(),
        master_klip_id: master.into(),
        instance_ids: vec![],
        dry_run,
        push_data_sources: false,
    }
}
