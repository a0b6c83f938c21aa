//! The report schedule methods (F7): CreateReportSchedule, GetReportSchedule,
//! ListReportSchedules, UpdateReportSchedule, DeleteReportSchedule, ListReportDeliveries.
//!
//! Editors and admins of the account write; any member reads. A schedule is checked whole
//! at save: its cron expression, time zone, recipients and lead time, and its Klips or
//! dashboard, which must be the account's (asked of the library with a service token; an
//! id of another tenant gets the same answer as an id that does not exist).

use std::collections::BTreeSet;

use chrono::Utc;
use diesel_async::AsyncConnection;
use tonic::{Request, Response, Status};
use trellis_platform::auth::{Caller, caller};
use trellis_platform::error::{ApiError, StoreError, Violations};
use trellis_platform::idempotency;
use trellis_platform::pagination::PageRequest;
use trellis_proto::refresh::v1::*;
use uuid::Uuid;

use super::report_checks::{check_target, check_user, etag_matches, quota_exceeded, store_error};
use super::report_wire::{self, UPDATABLE};
use super::{RefreshApi, account_of, parse_id};
use crate::model::ReportSchedule as StoredSchedule;
use crate::reports::schedule::{ScheduleDefinition, Target};
use crate::store::{deliveries, schedules};

fn scope(account: Uuid, caller: &Caller) -> String {
    format!("{account}/{}", caller.user())
}

impl RefreshApi {
    pub(super) async fn create_schedule(
        &self,
        request: Request<CreateReportScheduleRequest>,
    ) -> Result<Response<CreateReportScheduleResponse>, Status> {
        const METHOD: &str = "CreateReportSchedule";
        let caller = caller(&request)?;
        let request = request.into_inner();
        caller.require_writer()?;
        idempotency::validate(&request.request_id)?;
        let wanted = request.schedule.unwrap_or_default();
        let account = account_of(&caller, &wanted.account_id)?;
        let scope = scope(account, &caller);
        // A retry gets the first answer, whatever changed since.
        {
            let mut conn = self.conn().await?;
            if let Some(answer) =
                idempotency::replay(&mut conn, &scope, METHOD, &request.request_id)
                    .await
                    .map_err(ApiError::from)?
            {
                return Ok(Response::new(answer));
            }
        }

        let mut violations = Violations::new();
        let definition = report_wire::definition(&wanted, &mut violations);
        definition.check(&mut violations);
        definition.check_interval(self.settings.report_min_interval, &mut violations);
        check_user(&caller, &definition.user_id)?;
        check_target(&self.peers, account, &definition.target, &mut violations).await?;
        violations.into_result()?;

        let now = Utc::now();
        let (next_send_time, prepare_at) = definition.timing(now, self.settings.report_lead_time);
        let (klip_ids, dashboard_id) = match &definition.target {
            Target::Klips(ids) => (ids.clone(), None),
            Target::Dashboard(id) => (Vec::new(), Some(*id)),
        };
        let row = StoredSchedule {
            id: Uuid::now_v7(),
            account_id: account,
            name: definition.name.clone(),
            cron_expression: definition.cron_expression.trim().to_owned(),
            time_zone: definition.time_zone.clone(),
            recipients: definition.recipients.clone(),
            klip_ids,
            dashboard_id,
            lead_time_ms: definition.lead_time.map(|lead| lead.as_millis() as i64),
            user_id: definition.user_id.clone(),
            paused: definition.paused,
            next_send_time,
            prepare_at,
            last_send_time: None,
            version: 1,
            create_time: now,
            update_time: now,
        };
        let request_id = request.request_id.clone();
        let quota = self.settings.report_max_schedules;
        let mut conn = self.conn().await?;
        let answer = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                if let Some(answer) = idempotency::replay(conn, &scope, METHOD, &request_id).await?
                {
                    return Ok(Ok(answer));
                }
                // Counted under a lock of the account's schedules, so that concurrent
                // creates cannot pass the quota together.
                let existing = schedules::count_locked(conn, account).await?;
                if existing >= i64::from(quota) {
                    return Ok(Err(quota_exceeded(account, existing, quota)));
                }
                let created = schedules::insert(conn, &row).await?;
                let answer = CreateReportScheduleResponse {
                    schedule: Some(report_wire::schedule(&created)),
                };
                idempotency::remember(conn, &scope, METHOD, &request_id, &answer).await?;
                Ok(Ok(answer))
            })
            .await
            .map_err(ApiError::from)??;
        self.reports_wake.notify_one();
        Ok(Response::new(answer))
    }

    pub(super) async fn get_schedule(
        &self,
        request: Request<GetReportScheduleRequest>,
    ) -> Result<Response<GetReportScheduleResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, &request.account_id)?;
        let mut conn = self.conn().await?;
        let found = schedules::get(&mut conn, account, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("report schedule", id))?;
        Ok(Response::new(GetReportScheduleResponse {
            schedule: Some(report_wire::schedule(&found)),
        }))
    }

    pub(super) async fn list_schedules(
        &self,
        request: Request<ListReportSchedulesRequest>,
    ) -> Result<Response<ListReportSchedulesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let account = account_of(&caller, &request.account_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let after = page
            .after
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| ApiError::invalid("page_token", "not a token this service issued"))?;
        let mut conn = self.conn().await?;
        let mut rows = schedules::list(&mut conn, account, after, page.fetch_limit())
            .await
            .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |row| row.id.to_string());
        Ok(Response::new(ListReportSchedulesResponse {
            schedules: rows.iter().map(report_wire::schedule).collect(),
            next_page_token,
        }))
    }

    pub(super) async fn update_schedule(
        &self,
        request: Request<UpdateReportScheduleRequest>,
    ) -> Result<Response<UpdateReportScheduleResponse>, Status> {
        const METHOD: &str = "UpdateReportSchedule";
        let caller = caller(&request)?;
        let request = request.into_inner();
        caller.require_writer()?;
        idempotency::validate(&request.request_id)?;
        let wanted = request.schedule.unwrap_or_default();
        let id = parse_id("schedule.id", &wanted.id)?;
        let account = account_of(&caller, &wanted.account_id)?;
        let paths: BTreeSet<String> = match &request.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask.paths.iter().cloned().collect(),
            _ => report_wire::implied_mask(&wanted)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        if let Some(unknown) = paths.iter().find(|p| !UPDATABLE.contains(&p.as_str())) {
            return Err(ApiError::invalid(
                "update_mask",
                format!(
                    "unknown field path {unknown:?}; updatable: {}",
                    UPDATABLE.join(", ")
                ),
            )
            .into());
        }
        let has = |path: &str| paths.contains(path);
        let scope = scope(account, &caller);
        let current = {
            let mut conn = self.conn().await?;
            if let Some(answer) =
                idempotency::replay(&mut conn, &scope, METHOD, &request.request_id)
                    .await
                    .map_err(ApiError::from)?
            {
                return Ok(Response::new(answer));
            }
            schedules::get(&mut conn, account, id)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::not_found("report schedule", id))?
        };
        etag_matches(&wanted.etag, &current)?;

        let mut violations = Violations::new();
        let mut definition = ScheduleDefinition::from(&current);
        report_wire::apply(&wanted, has, &mut definition, &mut violations);
        definition.check(&mut violations);
        if has("cron_expression") {
            definition.check_interval(self.settings.report_min_interval, &mut violations);
        }
        if has("user_id") {
            check_user(&caller, &definition.user_id)?;
        }
        let retarget = has("klips") || has("dashboard_id");
        if retarget {
            check_target(&self.peers, account, &definition.target, &mut violations).await?;
        }
        violations.into_result()?;
        // A new timing or target replaces the next send (and any prepared, unsent one).
        let retime = retarget
            || ["cron_expression", "time_zone", "paused", "lead_time"]
                .iter()
                .any(|path| has(path));
        let (next_send_time, prepare_at) =
            definition.timing(Utc::now(), self.settings.report_lead_time);

        let request_id = request.request_id.clone();
        let etag = wanted.etag.clone();
        let mut conn = self.conn().await?;
        let answer = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                if let Some(answer) = idempotency::replay(conn, &scope, METHOD, &request_id).await?
                {
                    return Ok(Ok(answer));
                }
                let Some(current) = schedules::get_for_update(conn, account, id).await? else {
                    return Err(StoreError::NotFound);
                };
                if let Err(error) = etag_matches(&etag, &current) {
                    return Ok(Err(error));
                }
                let (klip_ids, dashboard_id) = match &definition.target {
                    Target::Klips(ids) => (ids.clone(), None),
                    Target::Dashboard(id) => (Vec::new(), Some(*id)),
                };
                let mut row = StoredSchedule {
                    name: definition.name.clone(),
                    cron_expression: definition.cron_expression.trim().to_owned(),
                    time_zone: definition.time_zone.clone(),
                    recipients: definition.recipients.clone(),
                    klip_ids,
                    dashboard_id,
                    lead_time_ms: definition.lead_time.map(|lead| lead.as_millis() as i64),
                    user_id: definition.user_id.clone(),
                    paused: definition.paused,
                    version: current.version + 1,
                    ..current.clone()
                };
                if retime {
                    row.next_send_time = next_send_time;
                    row.prepare_at = prepare_at;
                    schedules::discard_unsent(conn, id).await?;
                }
                let updated = schedules::replace(conn, &row).await?;
                let answer = UpdateReportScheduleResponse {
                    schedule: Some(report_wire::schedule(&updated)),
                };
                idempotency::remember(conn, &scope, METHOD, &request_id, &answer).await?;
                Ok(Ok(answer))
            })
            .await
            .map_err(|error| store_error(error, id))??;
        self.reports_wake.notify_one();
        Ok(Response::new(answer))
    }

    pub(super) async fn delete_schedule(
        &self,
        request: Request<DeleteReportScheduleRequest>,
    ) -> Result<Response<DeleteReportScheduleResponse>, Status> {
        const METHOD: &str = "DeleteReportSchedule";
        let caller = caller(&request)?;
        let request = request.into_inner();
        caller.require_writer()?;
        idempotency::validate(&request.request_id)?;
        let id = parse_id("id", &request.id)?;
        let account = account_of(&caller, &request.account_id)?;
        let scope = scope(account, &caller);
        let request_id = request.request_id.clone();
        let etag = request.etag.clone();
        let mut conn = self.conn().await?;
        let answer = conn
            .transaction::<_, StoreError, _>(async move |conn| {
                if let Some(answer) = idempotency::replay(conn, &scope, METHOD, &request_id).await?
                {
                    return Ok(Ok(answer));
                }
                let Some(current) = schedules::get_for_update(conn, account, id).await? else {
                    return Err(StoreError::NotFound);
                };
                if let Err(error) = etag_matches(&etag, &current) {
                    return Ok(Err(error));
                }
                schedules::delete(conn, account, id).await?;
                let answer = DeleteReportScheduleResponse {};
                idempotency::remember(conn, &scope, METHOD, &request_id, &answer).await?;
                Ok(Ok(answer))
            })
            .await
            .map_err(|error| store_error(error, id))??;
        Ok(Response::new(answer))
    }

    pub(super) async fn list_deliveries(
        &self,
        request: Request<ListReportDeliveriesRequest>,
    ) -> Result<Response<ListReportDeliveriesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let id = parse_id("schedule_id", &request.schedule_id)?;
        let account = account_of(&caller, &request.account_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let before = page
            .after
            .as_deref()
            .map(|token| {
                token
                    .parse::<i64>()
                    .ok()
                    .and_then(chrono::DateTime::from_timestamp_micros)
            })
            .map(|time| {
                time.ok_or_else(|| {
                    ApiError::invalid("page_token", "not a token this service issued")
                })
            })
            .transpose()?;
        let mut conn = self.conn().await?;
        if schedules::get(&mut conn, account, id)
            .await
            .map_err(ApiError::from)?
            .is_none()
        {
            return Err(ApiError::not_found("report schedule", id).into());
        }
        let mut rows = deliveries::list(&mut conn, id, before, page.fetch_limit())
            .await
            .map_err(ApiError::from)?;
        let next_page_token = page.finish(&mut rows, |row| {
            row.scheduled_time.timestamp_micros().to_string()
        });
        Ok(Response::new(ListReportDeliveriesResponse {
            deliveries: rows.iter().map(report_wire::delivery).collect(),
            next_page_token,
        }))
    }
}
