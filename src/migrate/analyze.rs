//! SQL read by PostgreSQL's own parser (`pg_query`, libpg_query): each
//! statement's kind for the doctrine (expand, contract, data, read,
//! other), whether it destroys data, the strongest table lock it takes,
//! and whether it can run inside a transaction block. `pgdrill classify`
//! prints this; the lock modes are those of PostgreSQL's documentation
//! ("Explicit Locking", and each command's page), named as `pg_locks`
//! shows them.

use pg_query::protobuf::{AlterTableType, ConstrType, ObjectType};
use pg_query::{NodeEnum, NodeRef};
use serde::Serialize;

/// What a statement is, in the doctrine's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Reads only.
    Read,
    /// Neither schema nor rows the app reads: settings, transactions,
    /// maintenance, grants.
    Other,
    /// Additive schema: the old version keeps working with it.
    Expand,
    /// Changes rows.
    Data,
    /// Breaks what the older version relies on.
    Contract,
}

/// A table lock mode, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    /// `SELECT`.
    AccessShare,
    /// `SELECT ... FOR UPDATE`.
    RowShare,
    /// `INSERT`, `UPDATE`, `DELETE`.
    RowExclusive,
    /// `CREATE INDEX CONCURRENTLY`, `VALIDATE CONSTRAINT`, `ANALYZE`.
    ShareUpdateExclusive,
    /// `CREATE INDEX`.
    Share,
    /// `CREATE TRIGGER`, `ADD FOREIGN KEY`.
    ShareRowExclusive,
    /// `REFRESH MATERIALIZED VIEW CONCURRENTLY`.
    Exclusive,
    /// Most `ALTER TABLE` forms, `DROP`, `TRUNCATE`: blocks even reads.
    AccessExclusive,
}

impl Lock {
    /// The name `pg_locks.mode` shows.
    pub fn name(self) -> &'static str {
        match self {
            Lock::AccessShare => "AccessShareLock",
            Lock::RowShare => "RowShareLock",
            Lock::RowExclusive => "RowExclusiveLock",
            Lock::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            Lock::Share => "ShareLock",
            Lock::ShareRowExclusive => "ShareRowExclusiveLock",
            Lock::Exclusive => "ExclusiveLock",
            Lock::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// The mode `LOCK TABLE ... IN ... MODE` names by number (1-8).
    fn of_mode(mode: i32) -> Option<Lock> {
        let all = [
            Lock::AccessShare,
            Lock::RowShare,
            Lock::RowExclusive,
            Lock::ShareUpdateExclusive,
            Lock::Share,
            Lock::ShareRowExclusive,
            Lock::Exclusive,
            Lock::AccessExclusive,
        ];
        usize::try_from(mode)
            .ok()?
            .checked_sub(1)
            .and_then(|i| all.get(i).copied())
    }
}

impl Serialize for Lock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One statement and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The statement as written.
    pub sql: String,
    /// 1-based line it starts on.
    #[serde(skip)]
    pub line: usize,
    /// Its kind.
    pub kind: Kind,
    /// Whether it drops or deletes data or the schema that holds it.
    pub destructive: bool,
    /// The strongest lock it takes on an existing table, if any.
    pub lock: Option<Lock>,
    /// Whether it can run inside a transaction block.
    pub transactional: bool,
    /// The doctrine sentence that applies.
    pub why: String,
    /// Whether it changes anything (schema, rows, the server's state), as
    /// opposed to reading or setting up the session (`SET`, `BEGIN`,
    /// `SHOW`, plain `EXPLAIN`, `ANALYZE`): what makes a `sql` move
    /// corrective.
    #[serde(skip)]
    pub writes: bool,
}

/// SQL the parser refused, placed in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The parser's message.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// The statements of `sql` as PostgreSQL's parser splits them (so a `;`
/// inside quotes, dollar quotes, comments or a `BEGIN ATOMIC` body never
/// splits); SQL it refuses is split by [`super::split`], whose quoting
/// rules are the scanner's, and fails at the server statement by statement.
pub fn statements(sql: &str) -> Vec<String> {
    match analyze(sql) {
        Ok(verdicts) => verdicts.into_iter().map(|v| v.sql).collect(),
        Err(_) => super::split::statements(sql),
    }
}

/// Every statement of `sql`, classified.
pub fn analyze(sql: &str) -> Result<Vec<Verdict>, ParseError> {
    let parsed = pg_query::parse(sql, 0).map_err(|e| locate(sql, &e))?;
    let mut out = Vec::new();
    for raw in &parsed.protobuf.stmts {
        let start = usize::try_from(raw.stmt_location)
            .unwrap_or(0)
            .min(sql.len());
        let end = match usize::try_from(raw.stmt_len).unwrap_or(0) {
            0 => sql.len(),
            len => (start + len).min(sql.len()),
        };
        let Some(text) = sql.get(start..end) else {
            continue;
        };
        let leading = text.len() - text.trim_start().len();
        let text = text.trim();
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
            continue;
        };
        // What the statement holds: function calls, data-modifying
        // statements in a WITH.
        let inside = Inside::of(node);
        let facts = classify(node, &inside);
        out.push(Verdict {
            writes: writes(node, &facts),
            sql: text.to_string(),
            line: sql[..start + leading].matches('\n').count() + 1,
            why: why(&facts),
            kind: facts.kind,
            destructive: facts.destructive,
            lock: facts.lock,
            transactional: facts.transactional,
        });
    }
    Ok(out)
}

/// Whether a statement changes anything (see [`Verdict::writes`]).
fn writes(node: &NodeEnum, facts: &Facts) -> bool {
    let session = match node {
        NodeEnum::TransactionStmt(_)
        | NodeEnum::VariableSetStmt(_)
        | NodeEnum::VariableShowStmt(_)
        | NodeEnum::DiscardStmt(_)
        | NodeEnum::CheckPointStmt(_) => true,
        NodeEnum::VacuumStmt(s) => !s.is_vacuumcmd,
        _ => false,
    };
    facts.kind != Kind::Read && !session
}

/// The facts of one statement, before they are put in words.
#[derive(Debug, Clone, Copy)]
struct Facts {
    kind: Kind,
    destructive: bool,
    lock: Option<Lock>,
    transactional: bool,
}

impl Facts {
    fn new(kind: Kind, lock: Option<Lock>) -> Facts {
        Facts {
            kind,
            destructive: false,
            lock,
            transactional: true,
        }
    }

    fn destructive(mut self) -> Facts {
        self.destructive = true;
        self
    }

    fn outside_transactions(mut self) -> Facts {
        self.transactional = false;
        self
    }
}

/// Functions whose call changes data, though the statement is a SELECT.
const WRITING_FUNCTIONS: &[&str] = &[
    "setval",
    "nextval",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "lo_unlink",
    "pg_advisory_lock",
];

/// What a statement holds inside it.
#[derive(Debug, Default)]
struct Inside {
    /// Names of the functions it calls.
    calls: Vec<String>,
    /// A DELETE somewhere in it (`WITH x AS (DELETE ...) SELECT ...`).
    deletes: bool,
    /// An INSERT, UPDATE, DELETE or MERGE somewhere in it.
    modifies: bool,
}

impl Inside {
    fn of(statement: &NodeEnum) -> Inside {
        let mut inside = Inside::default();
        for (node, ..) in statement.nodes() {
            match node {
                NodeRef::FuncCall(call) => {
                    if let Some(Some(NodeEnum::String(s))) = call.funcname.last().map(|n| &n.node) {
                        inside.calls.push(s.sval.to_ascii_lowercase());
                    }
                }
                NodeRef::DeleteStmt(_) => {
                    inside.deletes = true;
                    inside.modifies = true;
                }
                NodeRef::InsertStmt(_) | NodeRef::UpdateStmt(_) | NodeRef::MergeStmt(_) => {
                    inside.modifies = true;
                }
                _ => {}
            }
        }
        inside
    }

    fn writes(&self) -> bool {
        self.modifies
            || self
                .calls
                .iter()
                .any(|c| WRITING_FUNCTIONS.contains(&c.as_str()))
    }
}

fn classify(node: &NodeEnum, inside: &Inside) -> Facts {
    use Kind::*;
    use Lock::*;
    match node {
        NodeEnum::AlterTableStmt(s) => alter_table_stmt(s),
        NodeEnum::RenameStmt(s) => match object(s.rename_type) {
            ObjectType::ObjectIndex => Facts::new(Other, Some(ShareUpdateExclusive)),
            _ => Facts::new(Contract, Some(AccessExclusive)),
        },
        NodeEnum::IndexStmt(s) if s.concurrent => {
            Facts::new(Expand, Some(ShareUpdateExclusive)).outside_transactions()
        }
        NodeEnum::IndexStmt(_) => Facts::new(Expand, Some(Share)),
        NodeEnum::DropStmt(s) => drop_stmt(s),
        NodeEnum::TruncateStmt(_) => Facts::new(Data, Some(AccessExclusive)).destructive(),
        NodeEnum::DeleteStmt(_) => Facts::new(Data, Some(RowExclusive)).destructive(),
        NodeEnum::UpdateStmt(_) | NodeEnum::InsertStmt(_) | NodeEnum::MergeStmt(_) => {
            Facts::new(Data, Some(RowExclusive))
        }
        NodeEnum::CopyStmt(s) if s.is_from => Facts::new(Data, Some(RowExclusive)),
        NodeEnum::CopyStmt(_) => Facts::new(Read, Some(AccessShare)),
        NodeEnum::SelectStmt(s) if s.into_clause.is_some() => Facts::new(Expand, Some(AccessShare)),
        NodeEnum::SelectStmt(_) if inside.deletes => {
            Facts::new(Data, Some(RowExclusive)).destructive()
        }
        NodeEnum::SelectStmt(_) if inside.modifies => Facts::new(Data, Some(RowExclusive)),
        NodeEnum::SelectStmt(_) if inside.writes() => Facts::new(Data, Some(AccessShare)),
        NodeEnum::SelectStmt(s) if !s.locking_clause.is_empty() => Facts::new(Read, Some(RowShare)),
        NodeEnum::SelectStmt(_) => Facts::new(Read, Some(AccessShare)),
        NodeEnum::ExplainStmt(s) => match s.query.as_ref().and_then(|q| q.node.as_ref()) {
            // EXPLAIN ANALYZE runs the statement.
            Some(inner) if has_option(&s.options, "analyze") => classify(inner, inside),
            _ => Facts::new(Read, None),
        },
        NodeEnum::CreateStmt(_)
        | NodeEnum::CreateSeqStmt(_)
        | NodeEnum::CreateEnumStmt(_)
        | NodeEnum::CompositeTypeStmt(_)
        | NodeEnum::CreateDomainStmt(_)
        | NodeEnum::CreateSchemaStmt(_)
        | NodeEnum::CreateExtensionStmt(_)
        | NodeEnum::CreateTableAsStmt(_)
        | NodeEnum::AlterEnumStmt(_) => Facts::new(Expand, None),
        NodeEnum::ViewStmt(s) if s.replace => Facts::new(Other, Some(AccessExclusive)),
        NodeEnum::ViewStmt(_) => Facts::new(Expand, None),
        NodeEnum::CreateFunctionStmt(s) if s.replace => Facts::new(Other, None),
        NodeEnum::CreateFunctionStmt(_) => Facts::new(Expand, None),
        NodeEnum::CreateTrigStmt(_) => Facts::new(Other, Some(ShareRowExclusive)),
        NodeEnum::VacuumStmt(s) => match (s.is_vacuumcmd, has_option(&s.options, "full")) {
            (true, true) => Facts::new(Other, Some(AccessExclusive)).outside_transactions(),
            (true, false) => Facts::new(Other, Some(ShareUpdateExclusive)).outside_transactions(),
            (false, _) => Facts::new(Other, Some(ShareUpdateExclusive)),
        },
        NodeEnum::ReindexStmt(s) if has_option(&s.params, "concurrently") => {
            Facts::new(Other, Some(ShareUpdateExclusive)).outside_transactions()
        }
        NodeEnum::ReindexStmt(_) => Facts::new(Other, Some(Share)),
        NodeEnum::ClusterStmt(_) => Facts::new(Other, Some(AccessExclusive)),
        NodeEnum::RefreshMatViewStmt(s) if s.concurrent => Facts::new(Data, Some(Exclusive)),
        NodeEnum::RefreshMatViewStmt(_) => Facts::new(Data, Some(AccessExclusive)),
        NodeEnum::LockStmt(s) => Facts::new(Other, Lock::of_mode(s.mode)),
        NodeEnum::CommentStmt(_) => Facts::new(Other, Some(ShareUpdateExclusive)),
        NodeEnum::CreatedbStmt(_)
        | NodeEnum::AlterSystemStmt(_)
        | NodeEnum::CreateTableSpaceStmt(_)
        | NodeEnum::DropTableSpaceStmt(_) => Facts::new(Other, None).outside_transactions(),
        NodeEnum::DropdbStmt(_) => Facts::new(Contract, None)
            .destructive()
            .outside_transactions(),
        _ => Facts::new(Other, None),
    }
}

/// Whether a statement's options (`VACUUM (FULL)`, `EXPLAIN (ANALYZE)`)
/// name `option`.
fn has_option(options: &[pg_query::Node], option: &str) -> bool {
    options
        .iter()
        .any(|o| matches!(&o.node, Some(NodeEnum::DefElem(d)) if d.defname == option))
}

fn object(t: i32) -> ObjectType {
    ObjectType::try_from(t).unwrap_or(ObjectType::Undefined)
}

/// An `ALTER TABLE`: the strongest of its commands. On an index it is
/// maintenance, whatever its commands.
fn alter_table_stmt(s: &pg_query::protobuf::AlterTableStmt) -> Facts {
    let mut facts = Facts::new(Kind::Other, None);
    for cmd in s.cmds.iter().filter_map(|c| match &c.node {
        Some(NodeEnum::AlterTableCmd(cmd)) => Some(alter_table(cmd)),
        _ => None,
    }) {
        facts.kind = facts.kind.max(cmd.kind);
        facts.destructive |= cmd.destructive;
        facts.lock = facts.lock.max(cmd.lock);
        facts.transactional &= cmd.transactional;
    }
    if object(s.objtype) == ObjectType::ObjectIndex {
        facts.kind = facts.kind.min(Kind::Other);
    }
    facts
}

/// A `DROP`: destructive when what it drops holds data. An index holds
/// no data and no version of the app names it: dropping one is
/// maintenance (failed-cic's cleanup), not a contract.
fn drop_stmt(s: &pg_query::protobuf::DropStmt) -> Facts {
    use Lock::*;
    let kind = object(s.remove_type);
    let facts = match kind {
        ObjectType::ObjectIndex if s.concurrent => {
            Facts::new(Kind::Other, Some(ShareUpdateExclusive)).outside_transactions()
        }
        ObjectType::ObjectIndex => Facts::new(Kind::Other, Some(AccessExclusive)),
        _ => Facts::new(Kind::Contract, Some(AccessExclusive)),
    };
    let holds_data = matches!(
        kind,
        ObjectType::ObjectTable
            | ObjectType::ObjectSchema
            | ObjectType::ObjectMatview
            | ObjectType::ObjectSequence
            | ObjectType::ObjectForeignTable
    );
    if holds_data {
        facts.destructive()
    } else {
        facts
    }
}

fn alter_table(cmd: &pg_query::protobuf::AlterTableCmd) -> Facts {
    use AlterTableType as At;
    use Kind::*;
    use Lock::*;
    let subtype = At::try_from(cmd.subtype).unwrap_or(At::Undefined);
    match subtype {
        At::AtAddColumn => Facts::new(Expand, Some(AccessExclusive)),
        At::AtDropColumn => Facts::new(Contract, Some(AccessExclusive)).destructive(),
        At::AtAlterColumnType | At::AtSetNotNull | At::AtDropConstraint | At::AtDropIdentity => {
            Facts::new(Contract, Some(AccessExclusive))
        }
        At::AtDropNotNull => Facts::new(Expand, Some(AccessExclusive)),
        // SET DEFAULT adds; DROP DEFAULT takes away what inserts relied on.
        At::AtColumnDefault if cmd.def.is_some() => Facts::new(Expand, Some(AccessExclusive)),
        At::AtColumnDefault => Facts::new(Contract, Some(AccessExclusive)),
        At::AtAddConstraint => {
            let constraint = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                Some(NodeEnum::Constraint(c)) => Some(c),
                _ => None,
            };
            let foreign = constraint.is_some_and(|c| {
                ConstrType::try_from(c.contype).ok() == Some(ConstrType::ConstrForeign)
            });
            // A new constraint narrows what the older version may write.
            Facts::new(
                Contract,
                Some(if foreign {
                    ShareRowExclusive
                } else {
                    AccessExclusive
                }),
            )
        }
        At::AtValidateConstraint
        | At::AtSetStatistics
        | At::AtSetOptions
        | At::AtResetOptions
        | At::AtClusterOn
        | At::AtDropCluster
        | At::AtAttachPartition => Facts::new(Other, Some(ShareUpdateExclusive)),
        At::AtDetachPartition => Facts::new(Contract, Some(AccessExclusive)),
        At::AtDetachPartitionFinalize => {
            Facts::new(Contract, Some(ShareUpdateExclusive)).outside_transactions()
        }
        At::AtEnableTrig
        | At::AtEnableAlwaysTrig
        | At::AtEnableReplicaTrig
        | At::AtDisableTrig
        | At::AtEnableTrigAll
        | At::AtDisableTrigAll
        | At::AtEnableTrigUser
        | At::AtDisableTrigUser => Facts::new(Other, Some(ShareRowExclusive)),
        _ => Facts::new(Other, Some(AccessExclusive)),
    }
}

/// The doctrine sentence for a verdict, citing the course's runbooks as the
/// rest of pgdrill does.
fn why(f: &Facts) -> String {
    let mut out = match (f.kind, f.destructive) {
        (_, true) => "destroys data or the schema that holds it: only with approval, after a snapshot \
                      of the current state; a restore goes to a new instance, never in place \
                      (runbook 003, guiding principles and initial triage)"
            .to_string(),
        (Kind::Contract, false) => "contract: breaks what the older version relies on; only after a stable \
                                    compatibility window, with approval (runbook 000, migration types \
                                    and rollout sequence)"
            .to_string(),
        (Kind::Expand, false) => "expand: additive, the older version keeps working; it goes before the \
                                  deploy that needs it (runbook 000, rollout sequence)"
            .to_string(),
        (Kind::Data, false) => "changes rows: add, then backfill, then enforce, apart from the schema \
                                change (runbook 004, preventive controls)"
            .to_string(),
        (Kind::Read, false) => "reads only".to_string(),
        (Kind::Other, false) => "changes no schema or rows the app reads".to_string(),
    };
    if !f.transactional {
        out.push_str(
            "; cannot run inside a transaction block: plan it apart from the transactional steps \
             (runbook 004, preventive controls)",
        );
    }
    if f.lock == Some(Lock::AccessExclusive) {
        out.push_str(
            "; takes ACCESS EXCLUSIVE, which queues every query behind it: set lock_timeout \
             (runbook 000, failure mode 2)",
        );
    }
    out
}

/// Places a parse error: the statement it is in (each parsed alone), and
/// the token it names (`at or near "X"`) inside it.
fn locate(sql: &str, e: &pg_query::Error) -> ParseError {
    let message = match e {
        pg_query::Error::Parse(m) => m.clone(),
        other => other.to_string(),
    };
    let mut offset = 0;
    if let Ok(pieces) = pg_query::split_with_scanner(sql) {
        let mut from = 0;
        for piece in pieces {
            let at = sql[from..].find(piece).map_or(from, |i| from + i);
            from = at + piece.len();
            if pg_query::parse(piece, 0).is_err() {
                offset = at + (piece.len() - piece.trim_start().len());
                let near = message
                    .split("at or near \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next());
                if let Some(token) = near
                    && let Some(i) = piece.find(token)
                {
                    offset = at + i;
                } else if message.contains("at end of input") {
                    offset = at + piece.trim_end().len();
                }
                break;
            }
        }
    }
    let before = &sql[..offset.min(sql.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    ParseError {
        message,
        line,
        column,
    }
}
