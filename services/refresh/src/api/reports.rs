//! The report schedule methods (F7): CreateReportSchedule, GetReportSchedule,
//! ListReportSchedules, UpdateReportSchedule, DeleteReportSchedule, ListReportDeliveries.
//! Editors and admins of the account write; any member reads. The work is
//! `crate::app::schedules`'; `report_wire` reads and writes the messages.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use tonic::{Request, Response, Status};
use trellis_platform::auth::Caller;
use trellis_platform::error::{ApiError, ApiResult, Violations};
use trellis_platform::pagination::PageRequest;
use trellis_platform::replay::{self, RequestKey};
use trellis_platform::request as fields;
use trellis_proto::refresh::v1::*;
use uuid::Uuid;

use super::report_wire::{self, UPDATABLE};
use super::{RefreshApi, open, open_writing};
use crate::app::schedules::{self, Change};
use crate::domain::schedule::ScheduleDefinition;

/// A schedule as a call wants it, and what reading the call found wrong already.
struct Draft {
    definition: ScheduleDefinition,
    violations: Violations,
}

/// The fields an update sets: its mask, or without one every field set to a non-default
/// value.
fn update_paths(
    request: &UpdateReportScheduleRequest,
    wanted: &ReportSchedule,
) -> ApiResult<BTreeSet<String>> {
    let paths: BTreeSet<String> = match &request.update_mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.iter().cloned().collect(),
        _ => report_wire::implied_mask(wanted)
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
        ));
    }
    Ok(paths)
}

impl RefreshApi {
    pub(super) async fn create_schedule(
        &self,
        request: Request<CreateReportScheduleRequest>,
    ) -> Result<Response<CreateReportScheduleResponse>, Status> {
        let (caller, request) = open_writing(request)?;
        let wanted = request.schedule.unwrap_or_default();
        let account = fields::account_of(&caller, "account_id", &wanted.account_id)?;
        let key = RequestKey::in_account(
            &caller,
            account,
            "CreateReportSchedule",
            &request.request_id,
        )?;
        // A retry gets the first answer, whatever changed since.
        if let Some(answer) = self.replayed(&key).await? {
            return Ok(Response::new(answer));
        }
        let mut violations = Violations::new();
        let definition = report_wire::definition(&wanted, &mut violations);
        let draft = Draft {
            definition,
            violations,
        };
        let settings = &self.settings;
        self.save(
            &caller,
            &key,
            account,
            draft,
            |_| true,
            async |conn, definition| {
                let created = schedules::create(conn, settings, account, definition).await?;
                Ok(CreateReportScheduleResponse {
                    schedule: Some(report_wire::schedule(&created)),
                })
            },
        )
        .await
    }

    pub(super) async fn get_schedule(
        &self,
        request: Request<GetReportScheduleRequest>,
    ) -> Result<Response<GetReportScheduleResponse>, Status> {
        let (caller, request) = open(request)?;
        let id = fields::id("id", &request.id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let found = schedules::get(&self.pool, account, id).await?;
        Ok(Response::new(GetReportScheduleResponse {
            schedule: Some(report_wire::schedule(&found)),
        }))
    }

    pub(super) async fn list_schedules(
        &self,
        request: Request<ListReportSchedulesRequest>,
    ) -> Result<Response<ListReportSchedulesResponse>, Status> {
        let (caller, request) = open(request)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        let mut rows =
            schedules::list(&self.pool, account, page.after_id()?, page.fetch_limit()).await?;
        let next_page_token = page.finish_keyed(&mut rows, |row| row.id);
        Ok(Response::new(ListReportSchedulesResponse {
            schedules: rows.iter().map(report_wire::schedule).collect(),
            next_page_token,
        }))
    }

    pub(super) async fn update_schedule(
        &self,
        request: Request<UpdateReportScheduleRequest>,
    ) -> Result<Response<UpdateReportScheduleResponse>, Status> {
        let (caller, request) = open_writing(request)?;
        let wanted = request.schedule.clone().unwrap_or_default();
        let id = fields::id("schedule.id", &wanted.id)?;
        let account = fields::account_of(&caller, "account_id", &wanted.account_id)?;
        let key = RequestKey::in_account(
            &caller,
            account,
            "UpdateReportSchedule",
            &request.request_id,
        )?;
        let paths = update_paths(&request, &wanted)?;
        let has = |path: &str| paths.contains(path);
        if let Some(answer) = self.replayed(&key).await? {
            return Ok(Response::new(answer));
        }
        // A stale etag is refused before anything is asked of the library.
        let current = schedules::get(&self.pool, account, id).await?;
        trellis_platform::etag::require(&wanted.etag, &current.etag(), "schedule")?;

        let mut violations = Violations::new();
        let mut definition = ScheduleDefinition::from(&current);
        report_wire::apply(&wanted, has, &mut definition, &mut violations);
        let retime = [
            "cron_expression",
            "time_zone",
            "paused",
            "lead_time",
            "klips",
            "dashboard_id",
        ]
        .into_iter()
        .any(has);
        let draft = Draft {
            definition,
            violations,
        };
        let (settings, etag) = (&self.settings, wanted.etag);
        self.save(
            &caller,
            &key,
            account,
            draft,
            has,
            async |conn, definition| {
                let change = Change {
                    definition: definition.clone(),
                    etag,
                    retime,
                };
                let updated = schedules::update(conn, settings, account, id, &change).await?;
                Ok(UpdateReportScheduleResponse {
                    schedule: Some(report_wire::schedule(&updated)),
                })
            },
        )
        .await
    }

    /// Checks the draft (the fields `changed` names: see `schedules::check`), saves it with
    /// `write` under the request id, and wakes the report loop.
    async fn save<R: prost::Message + Default>(
        &self,
        caller: &Caller,
        key: &RequestKey<'_>,
        account: Uuid,
        draft: Draft,
        changed: impl Fn(&str) -> bool,
        write: impl AsyncFnOnce(&mut AsyncPgConnection, &ScheduleDefinition) -> ApiResult<R>,
    ) -> Result<Response<R>, Status> {
        let Draft {
            definition,
            violations,
        } = draft;
        let settings = &self.settings;
        schedules::check(
            &self.peers,
            settings,
            caller,
            account,
            &definition,
            changed,
            violations,
        )
        .await?;
        let answer =
            replay::write(&self.pool, key, async |conn| write(conn, &definition).await).await?;
        self.reports_wake.notify_one();
        Ok(Response::new(answer))
    }

    pub(super) async fn delete_schedule(
        &self,
        request: Request<DeleteReportScheduleRequest>,
    ) -> Result<Response<DeleteReportScheduleResponse>, Status> {
        let (caller, request) = open_writing(request)?;
        let id = fields::id("id", &request.id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let key = RequestKey::in_account(
            &caller,
            account,
            "DeleteReportSchedule",
            &request.request_id,
        )?;
        let answer = replay::write(&self.pool, &key, async |conn| {
            schedules::delete(conn, account, id, &request.etag).await?;
            Ok(DeleteReportScheduleResponse {})
        })
        .await?;
        Ok(Response::new(answer))
    }

    pub(super) async fn list_deliveries(
        &self,
        request: Request<ListReportDeliveriesRequest>,
    ) -> Result<Response<ListReportDeliveriesResponse>, Status> {
        let (caller, request) = open(request)?;
        let id = fields::id("schedule_id", &request.schedule_id)?;
        let account = fields::account_of(&caller, "account_id", &request.account_id)?;
        let page = PageRequest::parse(request.page_size, &request.page_token)?;
        // Latest first: a page ends before the scheduled time of the last one sent.
        let before = page.after_key::<DateTime<Utc>>()?;
        let mut rows =
            schedules::deliveries(&self.pool, account, id, before, page.fetch_limit()).await?;
        let next_page_token = page.finish_keyed(&mut rows, |row| row.scheduled_time);
        Ok(Response::new(ListReportDeliveriesResponse {
            deliveries: rows.iter().map(report_wire::delivery).collect(),
            next_page_token,
        }))
    }
}
