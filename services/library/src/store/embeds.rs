//! Embeds and their render cache (F6).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use trellis_platform::error::StoreError;
use uuid::Uuid;

use super::corrupt;
use super::schema::{embed_renders as er, embeds, klips};
use crate::domain::embed::CachedRender;
use crate::domain::render::Render;
use crate::domain::stored::Embed;

#[derive(Queryable, Selectable)]
#[diesel(table_name = embeds, check_for_backend(diesel::pg::Pg))]
struct EmbedRow {
    id: String,
    account_id: Uuid,
    klip_id: Uuid,
    stale_while_revalidate: bool,
    max_age_ms: Option<i64>,
    seq: i64,
    revision: i64,
    created_at: DateTime<Utc>,
}

impl From<EmbedRow> for Embed {
    fn from(row: EmbedRow) -> Self {
        Embed {
            id: row.id,
            account_id: row.account_id,
            klip_id: row.klip_id,
            stale_while_revalidate: row.stale_while_revalidate,
            max_age: row
                .max_age_ms
                .map(|ms| Duration::from_millis(ms.max(0) as u64)),
            seq: row.seq,
            revision: row.revision,
            created_at: row.created_at,
        }
    }
}

/// What the embed asks for when it is created.
#[derive(Debug, Clone)]
pub struct NewEmbed {
    pub id: String,
    pub account_id: Uuid,
    pub klip_id: Uuid,
    pub stale_while_revalidate: bool,
    pub max_age: Option<Duration>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewEmbed) -> Result<Embed, StoreError> {
    let row: EmbedRow = diesel::insert_into(embeds::table)
        .values((
            embeds::id.eq(&new.id),
            embeds::account_id.eq(new.account_id),
            embeds::klip_id.eq(new.klip_id),
            embeds::stale_while_revalidate.eq(new.stale_while_revalidate),
            embeds::max_age_ms.eq(new.max_age.map(|age| age.as_millis() as i64)),
        ))
        .returning(EmbedRow::as_returning())
        .get_result(conn)
        .await?;
    Ok(row.into())
}

/// The account's embed `id`, locked for update when `for_update`.
async fn one(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: &str,
    for_update: bool,
) -> Result<Option<Embed>, StoreError> {
    let query = embeds::table
        .filter(embeds::id.eq(id))
        .filter(embeds::account_id.eq(account))
        .select(EmbedRow::as_select());
    let row = first_row!(query, conn, for_update);
    Ok(row.map(Embed::from))
}

lookups!(Embed, &str, str, borrow);

/// A page of the account's embeds in creation order, optionally only those of one Klip.
pub async fn list(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    klip: Option<Uuid>,
    after_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<Embed>, StoreError> {
    let mut query = embeds::table
        .filter(embeds::account_id.eq(account))
        .select(EmbedRow::as_select())
        .order(embeds::seq)
        .limit(limit)
        .into_boxed();
    if let Some(klip) = klip {
        query = query.filter(embeds::klip_id.eq(klip));
    }
    if let Some(after) = after_seq {
        query = query.filter(embeds::seq.gt(after));
    }
    Ok(query
        .load::<EmbedRow>(conn)
        .await?
        .into_iter()
        .map(Embed::from)
        .collect())
}

/// Revokes an embed; its render cache goes with it (the foreign key cascades).
pub async fn delete(
    conn: &mut AsyncPgConnection,
    account: Uuid,
    id: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::delete(
        embeds::table
            .filter(embeds::id.eq(id))
            .filter(embeds::account_id.eq(account)),
    )
    .execute(conn)
    .await?
        > 0)
}

/// An embed with what serving a view needs: the Klip's current version and the cached
/// render, if any.
#[derive(Debug, Clone)]
pub struct EmbedForView {
    pub embed: Embed,
    pub klip_version: i64,
    pub cached: Option<(CachedRender, Render)>,
}

pub async fn for_view(
    conn: &mut AsyncPgConnection,
    id: &str,
) -> Result<Option<EmbedForView>, StoreError> {
    let Some(embed) = embeds::table
        .find(id)
        .select(EmbedRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Embed::from)
    else {
        return Ok(None);
    };
    let Some(klip_version) = klips::table
        .filter(klips::id.eq(embed.klip_id))
        .filter(klips::account_id.eq(embed.account_id))
        .select(klips::version)
        .first::<i64>(conn)
        .await
        .optional()?
    else {
        // The Klip went in between, and its embeds with it.
        return Ok(None);
    };
    let cached = er::table
        .find(id)
        .select((er::klip_version, er::render, er::rendered_at))
        .first::<(i64, serde_json::Value, DateTime<Utc>)>(conn)
        .await
        .optional()?
        .map(|(klip_version, render, rendered_at)| {
            let render = serde_json::from_value::<Render>(render)
                .map_err(|_| corrupt(format!("the cached render of embed {id}")))?;
            Ok::<_, StoreError>((
                CachedRender {
                    rendered_at,
                    klip_version,
                },
                render,
            ))
        })
        .transpose()?;
    Ok(Some(EmbedForView {
        embed,
        klip_version,
        cached,
    }))
}

/// Keeps `render` as the embed's cached render, unless a newer one is already there (two
/// views rendering at once: the later render wins). Ends a revalidation in progress.
/// False when the embed was revoked meanwhile.
pub async fn store_render(
    conn: &mut AsyncPgConnection,
    embed_id: &str,
    render: &Render,
) -> Result<bool, StoreError> {
    use diesel::sql_types::{Int8, Jsonb, Text, Timestamptz};
    let json = serde_json::to_value(render).expect("a render serializes");
    let stored = diesel::sql_query(
        "INSERT INTO embed_renders (embed_id, klip_version, render, rendered_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (embed_id) DO UPDATE
         SET klip_version = excluded.klip_version,
             render = excluded.render,
             rendered_at = excluded.rendered_at,
             revalidation_started_at = NULL
         WHERE embed_renders.rendered_at <= excluded.rendered_at",
    )
    .bind::<Text, _>(embed_id)
    .bind::<Int8, _>(render.klip_version)
    .bind::<Jsonb, _>(&json)
    .bind::<Timestamptz, _>(render.rendered_at)
    .execute(conn)
    .await;
    match stored {
        Ok(_) => Ok(true),
        Err(error) => match StoreError::from(error) {
            StoreError::ForeignKeyViolation { .. } => Ok(false),
            other => Err(other),
        },
    }
}

/// Claims the background re-render of an embed's stale render: true for the one caller
/// that may start it now, false while another started less than `lease` ago.
pub async fn claim_revalidation(
    conn: &mut AsyncPgConnection,
    embed_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, StoreError> {
    let expired = chrono::Duration::from_std(lease)
        .ok()
        .and_then(|lease| now.checked_sub_signed(lease))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let claimed = diesel::update(
        er::table.filter(er::embed_id.eq(embed_id)).filter(
            er::revalidation_started_at
                .is_null()
                .or(er::revalidation_started_at.le(expired)),
        ),
    )
    .set(er::revalidation_started_at.eq(now))
    .execute(conn)
    .await?;
    Ok(claimed > 0)
}
