//! The top-level kind of one parsed statement, plus what only the top level can tell:
//! explicit object names of DDL/DCL, and whether the statement is opaque by nature
//! (CALL, EXECUTE, COPY PROGRAM, CREATE EXTENSION, ...).
//!
//! Statement types that are not modelled here map to `other` and are opaque: a kind this
//! module does not know must never read as harmless.

use sqlparser::ast::{
    AlterRoleOperation, ContextModifier, CopySource, CopyTarget, Expr, GrantObjects, ObjectName,
    ObjectType, ResetConfig, SchemaName, Set, SetExpr, Statement, UtilityOption, Value,
};

use super::{objects, Dialect, StatementKind};

/// What the top level of a statement says.
#[derive(Debug)]
pub(crate) struct Base {
    pub kind: StatementKind,
    pub objects: Vec<String>,
    pub opaque: bool,
    /// The statement may change state although its kind is not a write kind (unknown
    /// statements).
    pub writes: bool,
    /// Plain EXPLAIN: the inner statement is planned, not run, so its writes and calls
    /// do not happen.
    pub plan_only: bool,
}

impl Base {
    fn new(kind: StatementKind) -> Self {
        Base {
            kind,
            objects: Vec::new(),
            opaque: false,
            writes: false,
            plan_only: false,
        }
    }

    fn opaque(mut self) -> Self {
        self.opaque = true;
        self
    }

    fn unknown(mut self) -> Self {
        self.opaque = true;
        self.writes = true;
        self
    }

    fn with<'a>(mut self, names: impl IntoIterator<Item = &'a ObjectName>, d: Dialect) -> Self {
        self.objects
            .extend(names.into_iter().map(|n| objects::name(n, d)));
        self
    }
}

/// Classify the top level of `statement`.
pub(crate) fn base(statement: &Statement, d: Dialect) -> Base {
    use StatementKind as K;
    match statement {
        // `WITH ... INSERT/UPDATE/DELETE/MERGE` is a query whose body is the statement.
        Statement::Query(q) => Base::new(match &*q.body {
            SetExpr::Insert(_) => K::Insert,
            SetExpr::Update(_) => K::Update,
            SetExpr::Delete(_) => K::Delete,
            SetExpr::Merge(_) => K::Merge,
            _ => K::Select,
        }),
        Statement::Insert(_) => Base::new(K::Insert),
        Statement::Update { .. } => Base::new(K::Update),
        Statement::Delete(_) => Base::new(K::Delete),
        Statement::Merge { .. } => Base::new(K::Merge),
        Statement::Copy {
            source, to, target, ..
        } => copy(source, *to, target, d),
        Statement::Truncate { table_names, .. } => {
            Base::new(K::Truncate).with(table_names.iter().map(|t| &t.name), d)
        }
        Statement::Drop {
            object_type, names, ..
        } => match object_type {
            ObjectType::Role | ObjectType::User => Base::new(K::Role),
            _ => Base::new(K::Drop),
        }
        .with(names, d),
        Statement::DropFunction { func_desc, .. }
        | Statement::DropProcedure {
            proc_desc: func_desc,
            ..
        } => Base::new(K::Drop).with(func_desc.iter().map(|f| &f.name), d),
        Statement::DropTrigger(t) => Base::new(K::Drop)
            .with([&t.trigger_name], d)
            .with(&t.table_name, d),
        Statement::DropPolicy { table_name, .. } => Base::new(K::Drop).with([table_name], d),
        Statement::DropDomain(dd) => Base::new(K::Drop).with([&dd.name], d),
        Statement::DropExtension { .. } => Base::new(K::Drop).opaque(),
        Statement::DropSecret { .. } | Statement::DropConnector { .. } => Base::new(K::Drop),
        Statement::CreateRole { names, .. } => Base::new(K::Role).with(names, d),
        Statement::AlterRole { operation, .. } => {
            let b = Base::new(K::Role);
            // A per-role default of a string-syntax setting changes how every later
            // session of that role reads literals: opaque (see `lexical_setting`).
            match operation {
                AlterRoleOperation::Set { config_name, .. }
                    if lexical_setting(&objects::name(config_name, d)) =>
                {
                    b.opaque()
                }
                AlterRoleOperation::Reset { config_name, .. } => match config_name {
                    ResetConfig::ALL => b.opaque(),
                    ResetConfig::ConfigName(n) if lexical_setting(&objects::name(n, d)) => {
                        b.opaque()
                    }
                    ResetConfig::ConfigName(_) => b,
                },
                _ => b,
            }
        }
        Statement::CreateUser(_) => Base::new(K::Role),
        Statement::CreateExtension { .. } => Base::new(K::Create).opaque(),
        Statement::CreateView { name, .. }
        | Statement::CreateSequence { name, .. }
        | Statement::CreateType { name, .. }
        | Statement::CreateProcedure { name, .. }
        | Statement::CreateVirtualTable { name, .. } => Base::new(K::Create).with([name], d),
        Statement::CreateDatabase { db_name, .. } => Base::new(K::Create).with([db_name], d),
        Statement::CreateSchema { schema_name, .. } => match schema_name {
            SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => {
                Base::new(K::Create).with([n], d)
            }
            SchemaName::UnnamedAuthorization(_) => Base::new(K::Create),
        },
        Statement::CreateFunction(f) => Base::new(K::Create).with([&f.name], d),
        Statement::CreateTrigger(t) => Base::new(K::Create)
            .with([&t.name], d)
            .with([&t.table_name], d),
        Statement::CreateDomain(cd) => Base::new(K::Create).with([&cd.name], d),
        Statement::CreateIndex(i) => Base::new(K::Create).with(&i.name, d),
        Statement::CreateTable(_) | Statement::CreatePolicy { .. } | Statement::CreateServer(_) => {
            Base::new(K::Create)
        }
        Statement::AlterTable { name, .. }
        | Statement::AlterIndex { name, .. }
        | Statement::AlterView { name, .. } => Base::new(K::Alter).with([name], d),
        Statement::AlterSchema(_)
        | Statement::AlterType(_)
        | Statement::AlterPolicy { .. }
        | Statement::Comment { .. } => Base::new(K::Alter),
        Statement::RenameTable(renames) => {
            Base::new(K::Alter).with(renames.iter().flat_map(|r| [&r.old_name, &r.new_name]), d)
        }
        Statement::Grant { objects, .. } => Base::new(K::Grant).with(grant_objects(objects), d),
        Statement::Revoke { objects, .. } => Base::new(K::Revoke).with(grant_objects(objects), d),
        Statement::Set(set) => self::set(set, d),
        Statement::Use(_) | Statement::Discard { .. } => Base::new(K::Set),
        Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. }
        | Statement::ExplainTable { .. } => Base::new(K::Show),
        Statement::Call(_) => Base::new(K::Call).opaque(),
        Statement::Execute { .. } => Base::new(K::Execute).opaque(),
        Statement::Prepare { .. } => Base::new(K::Prepare),
        Statement::Deallocate { .. } => Base::new(K::Deallocate),
        Statement::Explain {
            analyze, options, ..
        } => {
            if *analyze || options.as_deref().is_some_and(analyze_option) {
                Base::new(K::ExplainAnalyze)
            } else {
                Base {
                    plan_only: true,
                    ..Base::new(K::Explain)
                }
            }
        }
        Statement::StartTransaction { statements, .. } => {
            let b = Base::new(K::Begin);
            // A BEGIN ... END block with statements inside is procedural code.
            if statements.is_empty() {
                b
            } else {
                b.opaque()
            }
        }
        Statement::Commit { .. } => Base::new(K::Commit),
        Statement::Rollback { .. } => Base::new(K::Rollback),
        Statement::Savepoint { .. } | Statement::ReleaseSavepoint { .. } => Base::new(K::Savepoint),
        Statement::Vacuum(v) => Base::new(K::Vacuum).with(&v.table_name, d),
        Statement::Analyze { .. } => Base::new(K::Analyze),
        Statement::LockTables { tables } => {
            let mut b = Base::new(K::Lock);
            b.objects
                .extend(tables.iter().map(|t| objects::ident(&t.table, d)));
            b
        }
        Statement::UnlockTables => Base::new(K::Lock),
        // Cursors read; the cursor's query is walked like any query.
        Statement::Declare { .. } | Statement::Fetch { .. } => Base::new(K::Select),
        Statement::Close { .. } | Statement::LISTEN { .. } | Statement::UNLISTEN { .. } => {
            Base::new(K::Other)
        }
        // NOTIFY only signals listeners; it changes no data.
        Statement::NOTIFY { .. } => Base::new(K::Other),
        // KILL, FLUSH, LOAD, INSTALL, ATTACH, procedural statements and every dialect
        // extension not modelled above: effect unknown.
        _ => Base::new(K::Other).unknown(),
    }
}

fn copy(source: &CopySource, to: bool, target: &CopyTarget, d: Dialect) -> Base {
    use StatementKind as K;
    let b = match (target, to) {
        (CopyTarget::Program { .. }, _) => Base::new(K::CopyProgram).opaque(),
        // Server-side files: reading or writing the database host's file system.
        (CopyTarget::File { .. }, true) => Base::new(K::CopyTo).unknown(),
        (CopyTarget::File { .. }, false) => Base::new(K::CopyFrom).opaque(),
        (_, true) => Base::new(K::CopyTo),
        (_, false) => Base::new(K::CopyFrom),
    };
    match source {
        CopySource::Table { table_name, .. } => b.with([table_name], d),
        CopySource::Query(_) => b,
    }
}

fn set(set: &Set, d: Dialect) -> Base {
    use StatementKind as K;
    let assignments: Vec<(Option<&ContextModifier>, &ObjectName)> = match set {
        Set::SetRole { .. } => return Base::new(K::Role),
        Set::SingleAssignment {
            scope, variable, ..
        } => vec![(scope.as_ref(), variable)],
        Set::MultipleAssignments { assignments } => assignments
            .iter()
            .map(|a| (a.scope.as_ref(), &a.name))
            .collect(),
        _ => return Base::new(K::Set),
    };
    let mut kind = K::Set;
    for (scope, variable) in assignments {
        let var = objects::name(variable, d).to_ascii_lowercase();
        // Server-wide settings (MySQL SET GLOBAL / PERSIST) are configuration changes
        // like PostgreSQL's ALTER SYSTEM, and can switch off logging or auditing.
        if matches!(scope, Some(ContextModifier::Global))
            || var.starts_with("@@global.")
            || var.starts_with("@@persist")
            || var.starts_with("persist")
        {
            return Base::new(K::Alter).opaque();
        }
        if d == Dialect::Postgres && lexical_setting(&var) {
            return Base::new(K::Set).opaque();
        }
        if matches!(
            var.as_str(),
            "role" | "session_authorization" | "authorization" | "password"
        ) {
            kind = K::Role;
        }
    }
    Base::new(kind)
}

/// PostgreSQL settings that change how the server reads string literals. The inspector
/// reads strings as with `standard_conforming_strings = on`; with it off, `'a\'' ; DROP
/// ...` ends elsewhere on the server than in the inspector. Changing these is opaque
/// (the front-end also refuses every statement while the server reports it off).
pub(crate) fn lexical_setting(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "standard_conforming_strings" | "backslash_quote"
    )
}

fn grant_objects(objects: &Option<GrantObjects>) -> Vec<&ObjectName> {
    let Some(objects) = objects else {
        return Vec::new();
    };
    match objects {
        GrantObjects::AllSequencesInSchema { schemas }
        | GrantObjects::AllTablesInSchema { schemas }
        | GrantObjects::AllViewsInSchema { schemas }
        | GrantObjects::AllMaterializedViewsInSchema { schemas }
        | GrantObjects::AllExternalTablesInSchema { schemas }
        | GrantObjects::AllFunctionsInSchema { schemas }
        | GrantObjects::FutureTablesInSchema { schemas }
        | GrantObjects::FutureViewsInSchema { schemas }
        | GrantObjects::FutureExternalTablesInSchema { schemas }
        | GrantObjects::FutureMaterializedViewsInSchema { schemas }
        | GrantObjects::FutureSequencesInSchema { schemas } => schemas.iter().collect(),
        GrantObjects::Databases(v)
        | GrantObjects::Schemas(v)
        | GrantObjects::Sequences(v)
        | GrantObjects::Tables(v)
        | GrantObjects::Views(v)
        | GrantObjects::Users(v) => v.iter().collect(),
        GrantObjects::Procedure { name, .. } | GrantObjects::Function { name, .. } => {
            vec![name]
        }
        _ => Vec::new(),
    }
}

/// `EXPLAIN (ANALYZE [true|on|1], ...)`: analyze unless explicitly switched off.
fn analyze_option(options: &[UtilityOption]) -> bool {
    options.iter().any(|o| {
        o.name.value.eq_ignore_ascii_case("analyze")
            && match &o.arg {
                None => true,
                Some(arg) => !is_false(arg),
            }
    })
}

fn is_false(arg: &Expr) -> bool {
    match arg {
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => !b,
            Value::Number(n, _) => n == "0",
            Value::SingleQuotedString(s) => {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "false" | "off" | "0" | "no"
                )
            }
            _ => false,
        },
        Expr::Identifier(id) => {
            matches!(
                id.value.to_ascii_lowercase().as_str(),
                "false" | "off" | "no"
            )
        }
        _ => false,
    }
}
