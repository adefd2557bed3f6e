"""Archive: closed ZoneStats windows and AlertEvents into PostgreSQL, SQL reports, conversion rate."""
