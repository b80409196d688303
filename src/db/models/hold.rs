//! `holds`: incidents waiting for the load test they opened during to end
//! (`during_load_tests: hold`). Their outbox rows point here (`deliveries.hold_id`); a hold
//! is settled once, by the conditional update in [`HoldRow::settle`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::holds;
use crate::db::{CachedDsl, DbConnection, FirstRowDsl};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = holds)]
pub struct HoldRow {
    pub id: i64,
    pub org_id: String,
    pub project_id: String,
    pub scenario_id: String,
    pub incident: i64,
    pub load_test_id: String,
    pub held_since: NaiveDateTime,
    pub failing_since: NaiveDateTime,
    pub recovered_at: Option<NaiveDateTime>,
}

#[derive(Insertable, Debug, Clone)]
#[diesel(table_name = holds, treat_none_as_default_value = false)]
pub struct NewHold<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
    pub scenario_id: &'a str,
    pub incident: i64,
    pub load_test_id: &'a str,
    pub held_since: NaiveDateTime,
    pub failing_since: NaiveDateTime,
}

/// How a hold was settled (the `outcome` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Its rows became sendable: the incident is posted.
    Released,
    /// Its rows were skipped: the incident recovered, one line said so.
    Recovered,
}

impl HoldOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Released => "released",
            Self::Recovered => "recovered",
        }
    }
}

impl HoldRow {
    /// Inserts a hold; returns its id.
    pub fn insert(conn: &mut DbConnection, new: &NewHold<'_>) -> QueryResult<i64> {
        diesel::insert_into(holds::table)
            .values(new)
            .returning(holds::id)
            .get_result(conn)
    }

    /// The open hold of a scenario's incident, locked until the transaction ends (a no-op
    /// update, portable), so a settle running meanwhile on another instance waits for the
    /// rows this transaction adds to it. `recovered_at` is recorded when given.
    pub fn lock_open(
        conn: &mut DbConnection,
        scenario_id: &str,
        incident: i64,
        recovered_at: Option<NaiveDateTime>,
    ) -> QueryResult<Option<Self>> {
        let open = holds::table
            .filter(holds::scenario_id.eq(scenario_id))
            .filter(holds::incident.eq(incident))
            .filter(holds::settled_at.is_null());
        let id: Option<i64> = match recovered_at {
            Some(at) => diesel::update(open)
                .set(holds::recovered_at.eq(at))
                .returning(holds::id)
                .get_result(conn)
                .optional()?,
            None => diesel::update(open)
                .set(holds::settled_at.eq(None::<NaiveDateTime>))
                .returning(holds::id)
                .get_result(conn)
                .optional()?,
        };
        match id {
            Some(id) => Self::find_by_id(conn, id),
            None => Ok(None),
        }
    }

    /// Up to `limit` holds not settled yet, oldest first (the partial index `holds_open`).
    pub fn open(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<Self>> {
        holds::table
            .filter(holds::settled_at.is_null())
            .order(holds::id.asc())
            .limit(limit)
            .select(Self::as_select())
            .cached()
            .load(conn)
    }

    /// Settles the hold `id`, if nobody has: `Some(row)` for the one caller that wins
    /// (across instances and restarts), `None` for everyone else.
    pub fn settle(
        conn: &mut DbConnection,
        id: i64,
        at: NaiveDateTime,
    ) -> QueryResult<Option<Self>> {
        let won = diesel::update(holds::table.find(id).filter(holds::settled_at.is_null()))
            .set(holds::settled_at.eq(at))
            .execute(conn)?;
        if won == 0 {
            return Ok(None);
        }
        Self::find_by_id(conn, id)
    }

    /// Records how the hold the caller just settled ended.
    pub fn record_outcome(
        conn: &mut DbConnection,
        id: i64,
        outcome: HoldOutcome,
    ) -> QueryResult<()> {
        diesel::update(holds::table.find(id))
            .set(holds::outcome.eq(outcome.as_str()))
            .execute(conn)?;
        Ok(())
    }

    pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Self>> {
        holds::table
            .find(id)
            .select(Self::as_select())
            .first_row(conn)
            .optional()
    }
}
