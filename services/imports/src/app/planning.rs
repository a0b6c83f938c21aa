//! Making an import plan (I8): the family check (I1), the source's dependency closure (I3,
//! I4), and what the destination, the token service and this service's links say about it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use trellis_platform::auth::Caller;
use trellis_platform::db::DbPool;
use trellis_platform::error::{ApiError, ApiResult};
use trellis_proto::library::v1 as library;
use trellis_proto::tokens::v1 as tokens;
use uuid::Uuid;

use crate::domain::asset::{AssetKind, AssetRef};
use crate::domain::family::same_family;
use crate::domain::plan::Plan;
use crate::domain::plan::{self, PlanContext, TokenHealth};
use crate::domain::spec::ImportSpec;
use crate::peers::Peers;
use crate::peers::convert;
use crate::store::links;
use trellis_platform::peer::upstream;

/// The two accounts, once they are known to be in one family (I1). A source the family
/// rule forbids is refused the same whether it exists or not.
/// I15: the importer must be allowed in the source too. A person imports only from an
/// account they administer themselves (agency staff, admins of the partner and so of its
/// clients; someone who is an admin of both clients), so a client's own admin cannot pull a
/// sibling's assets, and a viewer of the source cannot copy its secrets out. The refusal
/// says nothing about whether the source exists.
pub async fn check_importer(peers: &Peers, caller: &Caller, source: Uuid) -> ApiResult<()> {
    if caller.is_service() {
        return Ok(());
    }
    if peers
        .is_admin_of(caller.user(), source)
        .await
        .map_err(upstream("library"))?
    {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "importing from account {source} needs an admin's membership there: an importer \
             must be allowed in the source too (I15)"
        )))
    }
}

pub async fn check_family(
    peers: &Peers,
    source: Uuid,
    destination: Uuid,
) -> ApiResult<(library::Account, library::Account)> {
    let to = peers
        .account(destination)
        .await
        .map_err(upstream("library"))?
        .ok_or_else(|| ApiError::not_found("account", destination))?;
    let forbidden = || {
        ApiError::PermissionDenied(format!(
            "assets are imported only inside one family: partner → client, client → partner, client → client (I1); account {source} is not in the family of {destination}"
        ))
    };
    let from = peers
        .account(source)
        .await
        .map_err(upstream("library"))?
        .ok_or_else(forbidden)?;
    if !same_family(&convert::account(&from), &convert::account(&to)) {
        return Err(forbidden());
    }
    Ok((from, to))
}

/// The closure of `selection` in `source` as an import spec, and what it references but
/// lacks. A selected asset the source does not have is NOT_FOUND.
pub async fn closure(
    peers: &Peers,
    source: Uuid,
    selection: &[AssetRef],
) -> ApiResult<(ImportSpec, Vec<(AssetKind, Option<Uuid>)>)> {
    let answer = peers
        .closure(
            source,
            selection
                .iter()
                .copied()
                .map(convert::library_ref)
                .collect(),
        )
        .await
        .map_err(upstream("library"))?;
    let mut missing = Vec::new();
    for asset in &answer.missing_assets {
        let kind = convert::asset_kind(asset.kind);
        let id = Uuid::parse_str(&asset.id).ok();
        if let (Some(kind), Some(id)) = (kind, id)
            && selection.contains(&AssetRef::new(kind, id))
        {
            return Err(ApiError::not_found(kind.noun(), id));
        }
        if let Some(kind) = kind {
            missing.push((kind, id));
        }
    }
    let spec = convert::spec_of_closure(&answer).map_err(ApiError::internal)?;
    Ok((spec, missing))
}

/// What the destination resolves and has, the master tokens' health, and the instances the
/// destination has already.
pub async fn context(
    peers: &Peers,
    pool: &DbPool,
    source: Uuid,
    destination: Uuid,
    spec: &ImportSpec,
    missing: Vec<(AssetKind, Option<Uuid>)>,
) -> ApiResult<PlanContext> {
    let mut context = PlanContext {
        missing,
        ..Default::default()
    };
    let properties: Vec<String> = spec.template_properties().into_iter().collect();
    if !properties.is_empty() {
        // I13: with no user, what a company property or variable default gives.
        let resolved = peers
            .resolve_properties(destination, properties)
            .await
            .map_err(upstream("library"))?;
        context.unresolved = resolved.unresolved.into_iter().collect();
    }
    if !spec.variables.is_empty() {
        context.destination_variables = peers
            .variables(destination)
            .await
            .map_err(upstream("library"))?
            .into_iter()
            .map(|v| v.name)
            .collect();
    }
    for token in spec.assets.iter().filter_map(|a| a.token_id) {
        if context.tokens.contains_key(&token) {
            continue;
        }
        let health = match peers
            .token(source, token)
            .await
            .map_err(upstream("tokens"))?
        {
            None => TokenHealth::Unusable("deleted".into()),
            Some(found) => match tokens::TokenStatus::try_from(found.status) {
                Ok(tokens::TokenStatus::Active) => TokenHealth::Active,
                Ok(tokens::TokenStatus::NeedsReauthorization) => {
                    TokenHealth::NeedsReauthorization("waiting for re-authorization".into())
                }
                Ok(tokens::TokenStatus::InvalidatedByProvider) => {
                    TokenHealth::NeedsReauthorization(
                        "invalidated by the provider (too many tokens for one user)".into(),
                    )
                }
                Ok(tokens::TokenStatus::Revoked) => TokenHealth::Unusable("revoked".into()),
                _ => TokenHealth::Active,
            },
        };
        context.tokens.insert(token, health);
    }
    context.existing_instances = instances_in(pool, destination, spec).await?;
    Ok(context)
}

/// A new plan for importing `selection` from `source` into `destination`.
pub async fn make(
    peers: &Peers,
    pool: &DbPool,
    source: Uuid,
    destination: Uuid,
    selection: Vec<AssetRef>,
    creator: &str,
    expire_time: DateTime<Utc>,
) -> ApiResult<Plan> {
    check_family(peers, source, destination).await?;
    let (spec, missing) = closure(peers, source, &selection).await?;
    let context = context(peers, pool, source, destination, &spec, missing).await?;
    let (warnings, variables) = plan::review(&spec, &context);
    Ok(Plan {
        id: Uuid::now_v7(),
        destination_account_id: destination,
        source_account_id: source,
        creator_user_id: creator.to_owned(),
        selection,
        etag: spec.etag(source, destination),
        spec,
        warnings,
        variables,
        import_id: None,
        create_time: Utc::now(),
        expire_time,
    })
}

/// The plan's instances per master, for its items, read again now.
pub async fn existing_instances(
    pool: &DbPool,
    plan: &Plan,
) -> ApiResult<BTreeMap<AssetRef, Vec<Uuid>>> {
    instances_in(pool, plan.destination_account_id, &plan.spec).await
}

/// The instances `destination` has of the spec's masters, per master.
async fn instances_in(
    pool: &DbPool,
    destination: Uuid,
    spec: &ImportSpec,
) -> ApiResult<BTreeMap<AssetRef, Vec<Uuid>>> {
    let masters: Vec<Uuid> = spec.assets.iter().map(|a| a.id).collect();
    let mut conn = trellis_platform::db::connect(pool).await?;
    let mut existing: BTreeMap<AssetRef, Vec<Uuid>> = BTreeMap::new();
    for link in links::in_account(&mut conn, destination, &masters).await? {
        existing
            .entry(link.master())
            .or_default()
            .push(link.instance.id);
    }
    Ok(existing)
}
