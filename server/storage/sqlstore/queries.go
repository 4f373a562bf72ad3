package sqlstore

// Queries runs the statements the backends share, rendered once for one
// Flavor. Its methods run on the DB they are given: the read methods on a
// pool or in a transaction, the others inside the backend's write
// transaction, whose atomicity and locking are the backend's.
type Queries struct {
	f Flavor

	insertApp, getApp, getAppForUpdate, lockApp, listApps, updateApp string
	insertKey, upsertKey, listKeys, listAllKeys                      string

	insertCaller, putCaller, getCaller, listCallers, deleteCaller, lockCaller string
	insertAPIKey, deleteAPIKeys, expireAPIKeys, listAPIKeys                   string

	insertRefresh, getRefresh, getRefreshForUpdate, listFamily, revokeFamily, sweepRefresh string

	upsertRevocation, listRevocations, sweepRevocations string

	listMigrations, insertMigration string
}

// New renders the shared statements for f.
func New(f Flavor) *Queries {
	r := f.render
	return &Queries{
		f: f,

		insertApp:       r(insertApp),
		getApp:          r(getApp),
		getAppForUpdate: r(getApp + f.ForUpdate),
		lockApp:         r(lockApp + f.ForUpdate),
		listApps:        r(listApps),
		updateApp:       r(updateApp),
		insertKey:       r(insertKey),
		upsertKey:       r(insertKey + upsertKey),
		listKeys:        r(listKeys),
		listAllKeys:     r(listAllKeys),

		insertCaller:  r(insertCaller),
		putCaller:     r(insertCaller + putCaller),
		getCaller:     r(getCaller),
		listCallers:   r(listCallers),
		deleteCaller:  r(deleteCaller),
		lockCaller:    r(lockCaller + f.ForUpdate),
		insertAPIKey:  r(insertAPIKey),
		deleteAPIKeys: r(deleteAPIKeys),
		expireAPIKeys: r(expireAPIKeys),
		listAPIKeys:   r(listAPIKeys),

		insertRefresh:       r(insertRefresh),
		getRefresh:          r(getRefresh),
		getRefreshForUpdate: r(getRefresh + f.ForUpdate),
		listFamily:          r(listFamily + f.ForUpdate),
		revokeFamily:        r(revokeFamily),
		sweepRefresh:        r(sweepRefresh),

		upsertRevocation: r(upsertRevocation),
		listRevocations:  r(listRevocations),
		sweepRevocations: r(sweepRevocations),

		listMigrations:  r(listMigrations),
		insertMigration: r(insertMigration),
	}
}
