//! The console's fleet-wide audit query ([`warden_web::FleetAudit`]) on the fleet
//! database: every replica's shipped records through `warden_fleet::query`.
//!
//! Read-only; it must never write to the fleet database or the local chain.

use futures::future::BoxFuture;
use warden_fleet::query::FleetCursor;
use warden_fleet::Fleet;
use warden_web::fleet_audit::{FleetAudit, FleetAuditError, FleetAuditPage, FleetAuditRecord};

pub(crate) struct FleetAuditDesk(pub Fleet);

impl FleetAudit for FleetAuditDesk {
    fn query(
        &self,
        query: warden_audit::Query,
        cursor: Option<String>,
    ) -> BoxFuture<'static, Result<FleetAuditPage, FleetAuditError>> {
        let fleet = self.0.clone();
        Box::pin(async move {
            let cursor = cursor
                .map(|c| c.parse::<FleetCursor>())
                .transpose()
                .map_err(FleetAuditError::BadCursor)?;
            let unavailable =
                |e: warden_fleet::FleetError| FleetAuditError::Unavailable(e.to_string());
            let client = fleet.client().await.map_err(unavailable)?;
            let page = warden_fleet::query::query(&client, &query, cursor.as_ref())
                .await
                .map_err(unavailable)?;
            let records = page
                .records
                .into_iter()
                .map(|r| FleetAuditRecord {
                    replica: r.replica,
                    record: r.record,
                })
                .collect();
            Ok(FleetAuditPage {
                records,
                next: page.next.map(|c| c.to_string()),
            })
        })
    }
}
