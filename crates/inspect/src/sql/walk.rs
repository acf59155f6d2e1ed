//! A full walk over one parsed statement (sqlparser's `Visitor`, so no AST node is
//! missed): the objects it touches, calls to functions that are not known to be pure,
//! data-changing statements nested inside it (writable CTEs, EXPLAIN ANALYZE, PREPARE),
//! UPDATE/DELETE without WHERE at any depth, `SELECT ... INTO` and row locks.
//!
//! The walk only ever *adds* danger (opaque, writes, nested kinds); it never clears what
//! the top-level classification found. CTE names are reported as objects too: a CTE may
//! shadow a real table it also reads (`WITH users AS (SELECT * FROM users) ...`), and
//! hiding a real object is worse than naming a CTE.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, SetExpr, Statement, TableFactor, Visit, Visitor};

use super::{classify, functions, objects, Dialect, Resolution, StatementKind};

/// What the walk found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub objects: Vec<String>,
    pub opaque: bool,
    pub without_where: bool,
    /// Kinds of data-changing statements found below the top level.
    pub nested: Vec<StatementKind>,
    /// `SELECT ... INTO table` somewhere in the statement.
    pub select_into: bool,
    /// `FOR UPDATE` / `FOR SHARE` somewhere in the statement.
    pub row_lock: bool,
}

struct Walker {
    dialect: Dialect,
    resolution: Resolution,
    depth: usize,
    found: Findings,
    /// Names used as table functions in FROM, which are not database objects either.
    table_functions: Vec<String>,
}

/// Walk `statement` completely.
pub(crate) fn walk(statement: &Statement, dialect: Dialect, resolution: Resolution) -> Findings {
    let mut w = Walker {
        dialect,
        resolution,
        depth: 0,
        found: Findings::default(),
        table_functions: Vec::new(),
    };
    // The walker never breaks early.
    let _ = statement.visit(&mut w);
    let Walker {
        mut found,
        table_functions,
        ..
    } = w;
    found.objects.retain(|o| !table_functions.contains(o));
    found
}

impl Walker {
    fn add_object(&mut self, name: &ObjectName) {
        let n = objects::name(name, self.dialect);
        if !self.found.objects.contains(&n) {
            self.found.objects.push(n);
        }
    }

    fn add_nested(&mut self, kind: StatementKind) {
        if !self.found.nested.contains(&kind) {
            self.found.nested.push(kind);
        }
    }
}

/// The table a `SELECT ... INTO` creates (the first SELECT of a set expression).
fn select_into(body: &SetExpr) -> Option<&ObjectName> {
    match body {
        SetExpr::Select(s) => s.into.as_ref().map(|i| &i.name),
        SetExpr::SetOperation { left, .. } => select_into(left),
        SetExpr::Query(q) => select_into(&q.body),
        _ => None,
    }
}

fn misread_only(relation: &ObjectName) -> bool {
    matches!(relation.0.as_slice(), [sqlparser::ast::ObjectNamePart::Identifier(id)]
        if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("only"))
}

/// Whether a set expression contains a `TABLE name` query.
fn table_statement(body: &SetExpr) -> bool {
    match body {
        SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => {
            table_statement(left) || table_statement(right)
        }
        _ => false,
    }
}

impl Visitor for Walker {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.depth += 1;
        let without_where = match statement {
            Statement::Update { selection, .. } => selection.is_none(),
            Statement::Delete(d) => d.selection.is_none(),
            _ => false,
        };
        if without_where {
            self.found.without_where = true;
        }
        if self.depth > 1 {
            let nested = classify::base(statement, self.dialect);
            if nested.kind.is_write() {
                self.add_nested(nested.kind);
            }
            if nested.opaque {
                self.found.opaque = true;
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, _statement: &Statement) -> ControlFlow<()> {
        self.depth = self.depth.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if !query.locks.is_empty() {
            self.found.row_lock = true;
        }
        if table_statement(&query.body) {
            // `TABLE name`: sqlparser keeps the name as bare text with its quoting lost,
            // so it cannot be normalised; the statement is opaque instead of guessed.
            self.found.opaque = true;
        }
        if let Some(target) = select_into(&query.body) {
            self.found.select_into = true;
            self.add_object(target);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        if self.dialect == Dialect::Postgres && misread_only(relation) {
            // `ONLY` is reserved in PostgreSQL: a relation named so is a misparse.
            self.found.opaque = true;
        }
        self.add_object(relation);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let function = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => Some(name),
            TableFactor::Function { name, .. } => Some(name),
            _ => None,
        };
        if let Some(name) = function {
            self.table_functions.push(objects::name(name, self.dialect));
            if !functions::is_pure_table_function(name, self.dialect, self.resolution) {
                self.found.opaque = true;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(f) if !functions::is_pure(&f.name, self.dialect, self.resolution) => {
                self.found.opaque = true;
            }
            Expr::Function(_) => {}
            // With another schema before pg_catalog, an operator, a cast or a typed
            // literal may resolve to user code too: only plain names and literals stay
            // transparent.
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Value(_)
            | Expr::Nested(_) => {}
            _ if self.resolution == Resolution::UserSchemasFirst => self.found.opaque = true,
            _ => {}
        }
        ControlFlow::Continue(())
    }
}
