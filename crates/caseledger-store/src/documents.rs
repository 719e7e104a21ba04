//! Document projections: views kept as one JSON document per row, with the columns queries
//! filter on beside it.
//!
//! What differs between them is said once per view type ([`Document`]): the events it folds,
//! its table and index columns, the tables derived from it, how the first event of a row creates
//! it and how each event evolves it. A projection names its documents ([`DocumentProjection`]).
//! The one generic [`Projection`] implementation here does the rest, on both backends:
//!
//! - A batch parses its events once, loads every row they touch (one statement per
//!   [`ROWS_PER_STATEMENT`] keys), evolves the rows in memory in feed order and writes each
//!   touched row once, in the order the batch first touched it, in multi-row upserts of
//!   [`ROWS_PER_STATEMENT`] rows.
//! - `list_order` numbers rows in the order the feed creates them, after the largest stored, so a
//!   rebuild numbers them identically; `version` is the sequence of the row's last event.
//! - Derived tables (rows computed from a view, such as a case's departments and timers) are
//!   replaced whenever their row is written; a logged table gets the rows single events yield
//!   and is never rewritten.
//! - `tables()` lists every one of those tables (a rebuild empties them) and `checksum_sql()`
//!   covers every column of every row of them, ordered by key.
//!
//! It runs inside the projector's transaction, so a batch's rows commit with its checkpoint or
//! not at all ([`crate::projector`]); a failing event fails the whole batch.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::db::{
    list_placeholders, values_placeholders, Bind, Database, StoreError, Tx, ROWS_PER_STATEMENT,
};
use crate::feed::FeedEvent;
use crate::projector::{Projection, ProjectionError};

/// Where a document type is stored.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// The table: `key`, then `list_order` and `version` when present, then `columns`, then
    /// `document` (the view as JSON text).
    pub name: &'static str,
    /// The primary-key column, holding [`Document::key`].
    pub key: &'static str,
    /// Whether the table has a `list_order` column numbered by creation in feed order.
    pub list_order: bool,
    /// Whether the table has a `version` column (the sequence of the row's last event).
    pub version: bool,
    /// The index columns, in the order [`Document::columns`] binds them.
    pub columns: &'static [Column],
    /// Tables of rows computed from each view ([`Document::derived`], in this order), replaced
    /// whenever the view is written.
    pub derived: &'static [Rows],
    /// A table of rows single events yield ([`Document::logged`]), inserted once.
    pub logged: Option<Rows>,
}

impl Table {
    /// Table `name` keyed by `key`: the key and the document, nothing else yet.
    pub const fn new(name: &'static str, key: &'static str) -> Self {
        Self {
            name,
            key,
            list_order: false,
            version: false,
            columns: &[],
            derived: &[],
            logged: None,
        }
    }

    /// With a `list_order` column.
    pub const fn numbered(mut self) -> Self {
        self.list_order = true;
        self
    }

    /// With a `version` column.
    pub const fn versioned(mut self) -> Self {
        self.version = true;
        self
    }

    /// With these index columns.
    pub const fn with_columns(mut self, columns: &'static [Column]) -> Self {
        self.columns = columns;
        self
    }

    /// With these derived tables.
    pub const fn with_derived(mut self, derived: &'static [Rows]) -> Self {
        self.derived = derived;
        self
    }

    /// With this logged table.
    pub const fn with_logged(mut self, logged: Rows) -> Self {
        self.logged = Some(logged);
        self
    }
}

/// An index column of a document table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Whether an update of the row writes it again (`false`: the value never changes after the
    /// row is created, and an update leaves it, and the indexes over it, alone).
    pub rewritten: bool,
}

impl Column {
    /// A column kept current on every write of the row.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            rewritten: true,
        }
    }

    /// A column written when the row is created and never after.
    pub const fn fixed(name: &'static str) -> Self {
        Self {
            name,
            rewritten: false,
        }
    }
}

/// A table of plain rows beside the documents.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    /// The table.
    pub table: &'static str,
    /// Derived tables: the column holding the document's key (the rows of a rewritten view are
    /// deleted by it). Logged tables: the column the checksum orders by first.
    pub key: &'static str,
    /// Every column, in the order the rows are bound.
    pub columns: &'static [&'static str],
}

impl Rows {
    /// Table `table` of `columns`, whose column `key` holds the document's key.
    pub const fn new(
        table: &'static str,
        key: &'static str,
        columns: &'static [&'static str],
    ) -> Self {
        Self {
            table,
            key,
            columns,
        }
    }
}

/// One stored row of a document table while a batch works on it.
#[derive(Debug)]
pub struct Row<D> {
    /// The key.
    pub key: String,
    /// The row's place in feed order of creation (0 when the table has no `list_order`).
    pub list_order: i64,
    /// The sequence of the last event applied.
    pub version: i64,
    /// The view.
    pub view: D,
}

/// A view type stored as JSON documents, one row per key, folded from one aggregate type's
/// events.
pub trait Document: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// The domain event the view folds.
    type Event: DeserializeOwned + Send + Sync;

    /// The aggregate type of those events in the feed; other events are not read.
    const AGGREGATE_TYPE: &'static str;

    /// Where the documents are stored.
    const TABLE: Table;

    /// The key of the row `event` touches: the stream's own by default. `None`: the event
    /// touches no row of this table.
    fn key(event: &FeedEvent, change: &Self::Event) -> Option<String> {
        let _ = change;
        Some(event.aggregate_id.clone())
    }

    /// The row that the first event touching a key creates; [`Document::evolve`] then applies
    /// that event too. `Err` says why this event cannot be the first (it fails the batch).
    fn create(event: &FeedEvent, change: &Self::Event) -> Result<Self, &'static str>;

    /// Applies one event to the view.
    fn evolve(&mut self, event: &FeedEvent, change: &Self::Event);

    /// Pushes the index columns of [`Table::columns`], one bind each, in that order.
    fn columns(&self, row: &mut Vec<Bind>);

    /// Pushes the rows of each [`Table::derived`] table (one `Vec` per table, in that order),
    /// each row one bind per column.
    fn derived(row: &Row<Self>, tables: &mut [Vec<Bind>]) {
        let _ = (row, tables);
    }

    /// Pushes the rows of [`Table::logged`] that `event` yields.
    fn logged(
        event: &FeedEvent,
        change: &Self::Event,
        rows: &mut Vec<Bind>,
    ) -> Result<(), StoreError> {
        let _ = (event, change, rows);
        Ok(())
    }
}

/// A projection made of document tables: a [`Document`] type, or a pair of them (applied in
/// that order).
pub trait DocumentProjection: Send + Sync + 'static {
    /// The projection's name (its checkpoint's key).
    const NAME: &'static str;
    /// Its documents.
    type Documents: Documents;
}

/// One or more [`Document`] types applied as one projection.
pub trait Documents: Send + Sync + 'static {
    /// Their tables.
    fn tables() -> Vec<Table>;

    /// Applies a batch to all of them.
    fn apply<'a>(
        tx: &'a mut Tx,
        events: &'a [FeedEvent],
    ) -> impl Future<Output = Result<(), ProjectionError>> + Send + 'a;
}

impl<D: Document> Documents for D {
    fn tables() -> Vec<Table> {
        vec![D::TABLE]
    }

    async fn apply<'a>(tx: &'a mut Tx, events: &'a [FeedEvent]) -> Result<(), ProjectionError> {
        let batch = fold::<D>(tx, events).await?;
        store(tx, batch).await
    }
}

impl<A: Document, B: Document> Documents for (A, B) {
    fn tables() -> Vec<Table> {
        vec![A::TABLE, B::TABLE]
    }

    /// Folds both before writing either, so that the error reported is the one of the earliest
    /// failing event, as with a single document type.
    async fn apply<'a>(tx: &'a mut Tx, events: &'a [FeedEvent]) -> Result<(), ProjectionError> {
        let first = fold::<A>(tx, events).await;
        if let Err(error @ ProjectionError::Store(_)) = first {
            // The transaction may be unusable (PostgreSQL aborts it on an error).
            return Err(error);
        }
        let second = fold::<B>(tx, events).await;
        match (first, second) {
            (Ok(first), Ok(second)) => {
                store(tx, first).await?;
                store(tx, second).await
            }
            (Err(first), Err(second)) => Err(earliest(events, first, second)),
            (Err(error), Ok(_)) | (Ok(_), Err(error)) => Err(error),
        }
    }
}

/// Of two failures of one batch, the one of the event that comes first in the batch (the first
/// on a tie, or when either is not an event's).
fn earliest(
    events: &[FeedEvent],
    first: ProjectionError,
    second: ProjectionError,
) -> ProjectionError {
    let index = |error: &ProjectionError| match error {
        ProjectionError::Event { position, .. } => events
            .iter()
            .position(|event| event.at.position == *position),
        _ => None,
    };
    match (index(&first), index(&second)) {
        (Some(a), Some(b)) if b < a => second,
        _ => first,
    }
}

#[async_trait]
impl<P: DocumentProjection> Projection for P {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn tables(&self) -> Vec<&'static str> {
        P::Documents::tables()
            .iter()
            .flat_map(|table| {
                std::iter::once(table.name)
                    .chain(table.derived.iter().map(|rows| rows.table))
                    .chain(table.logged.iter().map(|rows| rows.table))
            })
            .collect()
    }

    async fn apply(&self, tx: &mut Tx, events: &[FeedEvent]) -> Result<(), ProjectionError> {
        P::Documents::apply(tx, events).await
    }

    fn checksum_sql(&self) -> Vec<String> {
        checksum_sql(&P::Documents::tables())
    }
}

/// What a batch did to one document table, before it is written.
struct Batch<D> {
    /// The keys touched, in the order first touched.
    order: Vec<String>,
    rows: HashMap<String, Row<D>>,
    /// The rows of the logged table, in feed order.
    logged: Vec<Bind>,
}

/// Loads the rows `events` touch and applies the events to them in memory.
async fn fold<D: Document>(tx: &mut Tx, events: &[FeedEvent]) -> Result<Batch<D>, ProjectionError> {
    let mut parsed = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for event in events
        .iter()
        .filter(|event| event.aggregate_type == D::AGGREGATE_TYPE)
    {
        let change: D::Event = serde_json::from_str(&event.payload)
            .map_err(|error| ProjectionError::event(event, error))?;
        let Some(key) = D::key(event, &change) else {
            continue;
        };
        if seen.insert(key.clone()) {
            order.push(key.clone());
        }
        parsed.push((event, key, change));
    }
    let mut batch = Batch {
        rows: if parsed.is_empty() {
            HashMap::new()
        } else {
            load::<D>(tx, &order).await?
        },
        order,
        logged: Vec::new(),
    };
    let mut next_list_order: Option<i64> = None;
    for (event, key, change) in parsed {
        if !batch.rows.contains_key(&key) {
            let view =
                D::create(event, &change).map_err(|why| ProjectionError::event(event, why))?;
            let list_order = if D::TABLE.list_order {
                let n = match next_list_order {
                    Some(n) => n,
                    None => max_list_order(tx, D::TABLE.name).await? + 1,
                };
                next_list_order = Some(n + 1);
                n
            } else {
                0
            };
            batch.rows.insert(
                key.clone(),
                Row {
                    key: key.clone(),
                    list_order,
                    version: 0,
                    view,
                },
            );
        }
        let row = batch.rows.get_mut(&key).expect("inserted above");
        row.view.evolve(event, &change);
        row.version = event.sequence;
        D::logged(event, &change, &mut batch.logged)?;
    }
    Ok(batch)
}

/// The stored rows of `keys` (those that exist).
async fn load<D: Document>(
    tx: &mut Tx,
    keys: &[String],
) -> Result<HashMap<String, Row<D>>, ProjectionError> {
    let table = &D::TABLE;
    // A literal 0 is a 4-byte integer on PostgreSQL; the decoder wants 8 bytes.
    let list_order = if table.list_order {
        "list_order"
    } else {
        "CAST(0 AS BIGINT)"
    };
    let version = if table.version {
        "version"
    } else {
        "CAST(0 AS BIGINT)"
    };
    let mut found = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT {key}, document, {list_order}, {version} FROM {name} WHERE {key} IN ({})",
            list_placeholders(chunk.len()),
            key = table.key,
            name = table.name,
        );
        let binds: Vec<Bind> = chunk.iter().map(|key| Bind::Text(key.clone())).collect();
        let rows: Vec<(String, String, i64, i64)> =
            with_tx!(tx, |conn| bind_all!(sqlx::query_as(&sql), &binds)
                .fetch_all(&mut *conn)
                .await)?;
        for (key, document, list_order, version) in rows {
            let view = serde_json::from_str(&document).map_err(StoreError::from)?;
            found.insert(
                key.clone(),
                Row {
                    key,
                    list_order,
                    version,
                    view,
                },
            );
        }
    }
    Ok(found)
}

async fn max_list_order(tx: &mut Tx, table: &str) -> Result<i64, ProjectionError> {
    let sql = format!("SELECT max(list_order) FROM {table}");
    let max: Option<i64> = with_tx!(tx, |conn| sqlx::query_scalar(&sql)
        .fetch_one(&mut *conn)
        .await)?;
    Ok(max.unwrap_or(0))
}

/// The stored columns of a document table, in bind order.
fn stored_columns(table: &Table) -> Vec<&'static str> {
    let mut columns = vec![table.key];
    if table.list_order {
        columns.push("list_order");
    }
    if table.version {
        columns.push("version");
    }
    columns.extend(table.columns.iter().map(|column| column.name));
    columns.push("document");
    columns
}

/// `INSERT … ON CONFLICT (key) DO UPDATE` of `rows` rows: an update writes the version, the
/// rewritten columns and the document; the key, `list_order` and fixed columns stay.
fn upsert_sql(table: &Table, rows: usize) -> String {
    let columns = stored_columns(table);
    let mut updated = Vec::new();
    if table.version {
        updated.push("version");
    }
    updated.extend(
        table
            .columns
            .iter()
            .filter(|column| column.rewritten)
            .map(|column| column.name),
    );
    updated.push("document");
    format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
        table.name,
        columns.join(", "),
        values_placeholders(rows, columns.len()),
        table.key,
        updated
            .iter()
            .map(|column| format!("{column} = excluded.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Writes every touched row once, with its derived rows, then the logged rows.
async fn store<D: Document>(tx: &mut Tx, batch: Batch<D>) -> Result<(), ProjectionError> {
    let table = &D::TABLE;
    let rows: Vec<&Row<D>> = batch
        .order
        .iter()
        .filter_map(|key| batch.rows.get(key))
        .collect();
    let width = stored_columns(table).len();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut binds = Vec::with_capacity(chunk.len() * width);
        for row in chunk {
            binds.push(Bind::Text(row.key.clone()));
            if table.list_order {
                binds.push(Bind::Int(row.list_order));
            }
            if table.version {
                binds.push(Bind::Int(row.version));
            }
            let before = binds.len();
            row.view.columns(&mut binds);
            if binds.len() - before != table.columns.len() {
                return Err(StoreError::Invariant(format!(
                    "{} binds {} index columns, not {}",
                    table.name,
                    binds.len() - before,
                    table.columns.len()
                ))
                .into());
            }
            binds.push(Bind::Text(
                serde_json::to_string(&row.view).map_err(StoreError::from)?,
            ));
        }
        tx.execute_with(&upsert_sql(table, chunk.len()), &binds)
            .await?;
        if table.derived.is_empty() {
            continue;
        }
        let keys: Vec<Bind> = chunk
            .iter()
            .map(|row| Bind::Text(row.key.clone()))
            .collect();
        let mut derived = vec![Vec::new(); table.derived.len()];
        for row in chunk {
            D::derived(row, &mut derived);
        }
        for (rows, binds) in table.derived.iter().zip(&derived) {
            let sql = format!(
                "DELETE FROM {} WHERE {} IN ({})",
                rows.table,
                rows.key,
                list_placeholders(keys.len())
            );
            tx.execute_with(&sql, &keys).await?;
            insert_rows(tx, rows, binds).await?;
        }
    }
    if let Some(rows) = &table.logged {
        insert_rows(tx, rows, &batch.logged).await?;
    }
    Ok(())
}

/// Inserts `binds` into `rows.table`, [`ROWS_PER_STATEMENT`] rows a statement.
async fn insert_rows(tx: &mut Tx, rows: &Rows, binds: &[Bind]) -> Result<(), ProjectionError> {
    let width = rows.columns.len();
    if width == 0 || binds.len() % width != 0 {
        return Err(StoreError::Invariant(format!(
            "{} rows of {} columns, {} binds",
            rows.table,
            width,
            binds.len()
        ))
        .into());
    }
    for chunk in binds.chunks(width * ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            rows.table,
            rows.columns.join(", "),
            values_placeholders(chunk.len() / width, width)
        );
        tx.execute_with(&sql, chunk).await?;
    }
    Ok(())
}

/// One query per table of `tables`: every row as `table|column|column|…` text (NULL as empty),
/// by key (a document table's rows by its primary key, so the query streams from the index;
/// derived and logged rows by their document's key, then by the whole row).
fn checksum_sql(tables: &[Table]) -> Vec<String> {
    let row = |table: &str, columns: &[&str]| {
        let cells: Vec<String> = columns
            .iter()
            .map(|column| format!("coalesce(CAST({column} AS TEXT), '')"))
            .collect();
        format!(
            "SELECT '{table}|' || {} AS row FROM {table}",
            cells.join(" || '|' || ")
        )
    };
    let mut queries = Vec::new();
    for table in tables {
        queries.push(format!(
            "{} ORDER BY {}",
            row(table.name, &stored_columns(table)),
            table.key
        ));
        for rows in table.derived.iter().chain(&table.logged) {
            queries.push(format!(
                "{} ORDER BY {}, row",
                row(rows.table, rows.columns),
                rows.key
            ));
        }
    }
    queries
}

impl Database {
    /// The view stored under `key` in `D`'s table.
    pub(crate) async fn document<D: Document>(&self, key: &str) -> Result<Option<D>, StoreError> {
        let sql = format!(
            "SELECT document FROM {} WHERE {} = $1",
            D::TABLE.name,
            D::TABLE.key
        );
        let document: Option<String> = with_pool!(self, |pool| sqlx::query_scalar(&sql)
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(document
            .map(|document| serde_json::from_str(&document))
            .transpose()?)
    }

    /// The documents `sql` selects (its one column) with `binds`, parsed, in its order.
    pub(crate) async fn documents<T: DeserializeOwned>(
        &self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Vec<T>, StoreError> {
        let documents: Vec<String> = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query_scalar(sql), binds);
            query.fetch_all(pool).await
        })?;
        documents
            .iter()
            .map(|document| Ok(serde_json::from_str(document)?))
            .collect()
    }

    /// A page of at most `limit` (1 to 200) documents, newest first: `select` picks the document
    /// and `order` (a `list_order`) of rows, with `binds`; the cursor of the next page is the
    /// `order` of the page's last row, when more rows follow.
    pub(crate) async fn document_page<T: DeserializeOwned>(
        &self,
        select: &str,
        order: &str,
        mut binds: Vec<Bind>,
        limit: i64,
    ) -> Result<(Vec<T>, Option<i64>), StoreError> {
        let limit = limit.clamp(1, 200);
        binds.push(Bind::Int(limit + 1));
        let sql = format!("{select} ORDER BY {order} DESC LIMIT ${}", binds.len());
        let rows: Vec<(String, i64)> = with_pool!(self, |pool| {
            let query = bind_all!(sqlx::query_as(&sql), &binds);
            query.fetch_all(pool).await
        })?;
        let has_more = rows.len() as i64 > limit;
        let mut documents = Vec::with_capacity(rows.len());
        let mut last = None;
        for (document, order) in rows.into_iter().take(limit as usize) {
            documents.push(serde_json::from_str(&document)?);
            last = Some(order);
        }
        Ok((documents, if has_more { last } else { None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: Table = Table::new("thing_view", "thing_id")
        .numbered()
        .versioned()
        .with_columns(&[Column::new("status"), Column::fixed("owner")])
        .with_derived(&[Rows::new("thing_tags", "thing_id", &["thing_id", "tag"])]);

    #[test]
    fn upsert_rewrites_only_what_can_change() {
        assert_eq!(
            upsert_sql(&VIEW, 2),
            "INSERT INTO thing_view (thing_id, list_order, version, status, owner, document) \
             VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12) \
             ON CONFLICT (thing_id) DO UPDATE SET version = excluded.version, \
             status = excluded.status, document = excluded.document"
        );
    }

    #[test]
    fn checksum_covers_every_column_of_every_table() {
        assert_eq!(
            checksum_sql(&[VIEW]),
            [
                "SELECT 'thing_view|' || coalesce(CAST(thing_id AS TEXT), '') || '|' || \
                 coalesce(CAST(list_order AS TEXT), '') || '|' || coalesce(CAST(version AS TEXT), '') \
                 || '|' || coalesce(CAST(status AS TEXT), '') || '|' || coalesce(CAST(owner AS TEXT), '') \
                 || '|' || coalesce(CAST(document AS TEXT), '') AS row FROM thing_view ORDER BY thing_id",
                "SELECT 'thing_tags|' || coalesce(CAST(thing_id AS TEXT), '') || '|' || \
                 coalesce(CAST(tag AS TEXT), '') AS row FROM thing_tags ORDER BY thing_id, row",
            ]
        );
    }

    fn failure(position: i64) -> ProjectionError {
        ProjectionError::Event {
            position,
            event_type: "E".into(),
            message: position.to_string(),
        }
    }

    #[test]
    fn the_earliest_failure_in_the_batch_wins() {
        // PostgreSQL's feed order is not position order: the batch's order decides.
        let events: Vec<FeedEvent> = [7, 3, 5]
            .into_iter()
            .map(|position| FeedEvent {
                at: crate::FeedPosition {
                    transaction_id: 0,
                    position,
                },
                aggregate_type: String::new(),
                aggregate_id: String::new(),
                sequence: 1,
                event_type: String::new(),
                event_version: String::new(),
                payload: String::new(),
                metadata: String::new(),
                recorded_at: String::new(),
                event_hash: None,
            })
            .collect();
        let message = |error: ProjectionError| match error {
            ProjectionError::Event { message, .. } => message,
            other => other.to_string(),
        };
        assert_eq!(message(earliest(&events, failure(3), failure(7))), "7");
        assert_eq!(message(earliest(&events, failure(7), failure(3))), "7");
        assert_eq!(message(earliest(&events, failure(5), failure(3))), "3");
        assert_eq!(
            message(earliest(
                &events,
                failure(5),
                ProjectionError::UnknownProjection("x".into())
            )),
            "5"
        );
    }
}
