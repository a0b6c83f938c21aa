//! Who may call which method: one row for every RPC of every service (DESIGN.md section 3).
//!
//! [`crate::gate`] applies a method's [`Rule`] before any handler runs: a user's token passes
//! when `members` is true and the token's account and role match a membership; a service
//! token passes when its identity is listed. The handlers then decide what inside the
//! account the caller may do (roles, the partner's clients). A method without a row is
//! refused, and the contract test in `tests/tests/access_matrix.rs` fails until it has one.
//!
//! Least privilege: secrets (GetAccessToken, GetCredentialSecret) go to the refresh service
//! alone; the import saga's steps (CloneAssets, the Apply methods, grants and credential
//! copies) to the import service alone; the edge only views embeds; operators administer
//! accounts, memberships and providers and may read, but never reach a secret.

use crate::auth::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Members of the account the token is signed into.
    pub members: bool,
    /// The Trellis identities whose service tokens are accepted.
    pub services: &'static [Identity],
}

use Identity::{Edge, Imports, Library, Operator, Refresh, Tokens};

const fn members(services: &'static [Identity]) -> Rule {
    Rule {
        members: true,
        services,
    }
}

const fn services(services: &'static [Identity]) -> Rule {
    Rule {
        members: false,
        services,
    }
}

/// Members and operators: the ordinary methods of the public API.
const API: Rule = members(&[Operator]);

const LIBRARY: &str = "trellis.library.v1.LibraryService";
const IMPORTS: &str = "trellis.imports.v1.ImportService";
const TOKENS: &str = "trellis.tokens.v1.TokenService";
const REFRESH: &str = "trellis.refresh.v1.RefreshService";

/// Every method, by service and method name.
pub const RULES: &[(&str, &str, Rule)] = &[
    // The library.
    (LIBRARY, "CreateAccount", API),
    // The token registry asks which partner an account belongs to (who sees a family's
    // OAuth apps).
    (LIBRARY, "GetAccount", members(&[Operator, Imports, Tokens])),
    (LIBRARY, "ListAccounts", API),
    (LIBRARY, "UpdateAccount", API),
    (LIBRARY, "DeleteAccount", API),
    (LIBRARY, "CreateMembership", API),
    (LIBRARY, "ListMemberships", API),
    (LIBRARY, "DeleteMembership", API),
    (
        LIBRARY,
        "CheckMembership",
        services(&[Imports, Tokens, Refresh]),
    ),
    (LIBRARY, "ListImportableAssets", members(&[])),
    (LIBRARY, "SetCompanyProperty", API),
    (LIBRARY, "GetCompanyProperty", API),
    (LIBRARY, "ListCompanyProperties", API),
    (LIBRARY, "DeleteCompanyProperty", API),
    (LIBRARY, "CreateVariable", API),
    (LIBRARY, "GetVariable", API),
    (LIBRARY, "ListVariables", members(&[Operator, Imports])),
    (LIBRARY, "UpdateVariable", API),
    (LIBRARY, "DeleteVariable", API),
    (LIBRARY, "SetUserVariableValue", API),
    (
        LIBRARY,
        "ResolveProperties",
        members(&[Operator, Imports, Refresh]),
    ),
    (LIBRARY, "CreateDataSource", API),
    (
        LIBRARY,
        "GetDataSource",
        members(&[Operator, Imports, Refresh]),
    ),
    (
        LIBRARY,
        "ListDataSources",
        members(&[Operator, Refresh, Tokens]),
    ),
    (LIBRARY, "UpdateDataSource", members(&[Operator, Imports])),
    (LIBRARY, "DeleteDataSource", members(&[Operator, Imports])),
    (LIBRARY, "ResolveDataSource", members(&[Operator, Refresh])),
    (LIBRARY, "CreateKlip", API),
    (LIBRARY, "GetKlip", members(&[Operator, Imports, Refresh])),
    (LIBRARY, "ListKlips", members(&[Operator, Imports])),
    (LIBRARY, "UpdateKlip", API),
    (LIBRARY, "DeleteKlip", members(&[Operator, Imports])),
    (LIBRARY, "RenderKlip", members(&[Operator, Refresh])),
    (LIBRARY, "CreateDashboard", API),
    (
        LIBRARY,
        "GetDashboard",
        members(&[Operator, Imports, Refresh]),
    ),
    (LIBRARY, "ListDashboards", members(&[Operator, Imports])),
    (LIBRARY, "UpdateDashboard", API),
    (LIBRARY, "DeleteDashboard", members(&[Operator, Imports])),
    (LIBRARY, "CreateEmbed", API),
    (LIBRARY, "GetEmbed", API),
    (LIBRARY, "ListEmbeds", API),
    (LIBRARY, "DeleteEmbed", API),
    (LIBRARY, "ViewEmbed", services(&[Edge, Operator])),
    (LIBRARY, "GetDependencyClosure", members(&[Imports])),
    (LIBRARY, "BatchGetAssets", services(&[Imports])),
    (LIBRARY, "CloneAssets", services(&[Imports])),
    (LIBRARY, "ApplyKlipDefinitions", services(&[Imports])),
    (LIBRARY, "ApplyDataSourceDefinitions", services(&[Imports])),
    // The import service: people only (and operators).
    (IMPORTS, "CreateImportPlan", API),
    (IMPORTS, "GetImportPlan", API),
    (IMPORTS, "ExecuteImportPlan", API),
    (IMPORTS, "GetImport", API),
    (IMPORTS, "ListImports", API),
    (IMPORTS, "ListInstances", API),
    (IMPORTS, "GetInstance", API),
    (IMPORTS, "UpdateInstances", API),
    (IMPORTS, "ReimportInstance", API),
    (IMPORTS, "DeleteInstances", API),
    // The token registry.
    // Operators administer the providers every account sees; an account's admin its
    // family's own OAuth apps (the handler keeps viewers, editors and other families out).
    (TOKENS, "CreateProvider", API),
    (TOKENS, "GetProvider", API),
    (TOKENS, "ListProviders", API),
    (TOKENS, "UpdateProvider", API),
    (TOKENS, "DeleteProvider", API),
    (TOKENS, "BeginAuthorization", members(&[])),
    (TOKENS, "CompleteAuthorization", members(&[])),
    (TOKENS, "ListTokens", API),
    (TOKENS, "GetToken", members(&[Operator, Imports])),
    (TOKENS, "UpdateToken", API),
    (TOKENS, "DeleteToken", API),
    (TOKENS, "CreateTokenGrant", services(&[Imports])),
    (TOKENS, "GetTokenGrant", members(&[Operator, Imports])),
    (TOKENS, "ListTokenGrants", members(&[Operator, Imports])),
    (TOKENS, "DeleteTokenGrant", members(&[Operator, Imports])),
    (TOKENS, "GetAccessToken", services(&[Refresh])),
    (TOKENS, "GetTokenUsage", API),
    (TOKENS, "GetTokenLimits", services(&[Refresh])),
    (TOKENS, "CreateCredential", API),
    (TOKENS, "GetCredential", API),
    (TOKENS, "ListCredentials", members(&[Operator, Imports])),
    (TOKENS, "UpdateCredential", API),
    (TOKENS, "DeleteCredential", members(&[Operator, Imports])),
    (TOKENS, "CopyCredential", services(&[Imports])),
    (TOKENS, "GetCredentialSecret", services(&[Refresh])),
    (TOKENS, "CheckDataSourceAuth", services(&[Library])),
    // The refresh service.
    // Activity is a person's (F1, F4).
    (REFRESH, "RecordActivity", members(&[])),
    (REFRESH, "RefreshNow", API),
    (REFRESH, "GetRefreshJob", API),
    (REFRESH, "GetQueueStatus", API),
    (REFRESH, "GetRefreshStatus", API),
    // People read data through the library, which checks that borrowed secrets are still
    // held (a revoked grant stops cached-data reads, I6).
    (REFRESH, "GetCachedData", services(&[Operator, Library])),
    (REFRESH, "CreateReportSchedule", API),
    (REFRESH, "GetReportSchedule", API),
    (REFRESH, "ListReportSchedules", API),
    (REFRESH, "UpdateReportSchedule", API),
    (REFRESH, "DeleteReportSchedule", API),
    (REFRESH, "ListReportDeliveries", API),
];

/// The rule of a gRPC path such as `/trellis.library.v1.LibraryService/GetAccount`.
pub fn rule(path: &str) -> Option<Rule> {
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    RULES
        .iter()
        .find(|(s, m, _)| *s == service && *m == method)
        .map(|(_, _, rule)| *rule)
}

/// True for paths of Trellis's own services (health and reflection need no token).
pub fn is_trellis(path: &str) -> bool {
    path.trim_start_matches('/').starts_with("trellis.")
}
