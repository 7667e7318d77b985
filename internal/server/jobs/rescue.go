package jobs

import (
	"context"
	"time"
)

// RescueEvery is how often the leader looks for jobs whose replica is
// gone.
const RescueEvery = time.Second

// rescue makes every job left "running" by a replica that is gone (its
// liveness lock free: its session ended) available again, now, and says
// how many. River's rescuer does the same to jobs running past
// RescueStuckJobsAfter, on its own 30 s schedule; v0.51.2 has no public
// call that hands a running job on (JobRetry leaves running jobs alone),
// so this is the rescuer's own update of River's table, made only for a
// worker proved dead. The job's next attempt resumes the run; the
// incident's claim, not this proof, keeps two replicas from running one
// incident, should a live replica's presence merely have reconnected.
func (r *Runner) rescue(ctx context.Context) (int, error) {
	rows, err := r.pool.Query(ctx, `SELECT id, attempted_by[array_upper(attempted_by, 1)] FROM `+Schema+`.river_job
		WHERE state = 'running' AND attempted_by IS NOT NULL AND array_length(attempted_by, 1) > 0`)
	if err != nil {
		return 0, err
	}
	type running struct {
		id int64
		by string
	}
	var jobs []running
	for rows.Next() {
		var j running
		if err := rows.Scan(&j.id, &j.by); err != nil {
			rows.Close()
			return 0, err
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	alive := map[string]bool{}
	n := 0
	for _, j := range jobs {
		live, ok := alive[j.by]
		if !ok {
			if live, err = r.alive(ctx, j.by); err != nil {
				return n, err
			}
			alive[j.by] = live
		}
		if live {
			continue
		}
		tag, err := r.pool.Exec(ctx, `UPDATE `+Schema+`.river_job SET state = 'available', scheduled_at = now(),
			errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'error', $3::text, 'trace', ''))
			WHERE id = $1 AND state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $2`,
			j.id, j.by, "rekey: the replica working this job ("+j.by+") is gone; another resumes it")
		if err != nil {
			return n, err
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// alive reports whether the replica whose River client ID is id holds
// its liveness lock. pg_locks is read, not the lock tried, so that the
// check never holds a lock itself.
func (r *Runner) alive(ctx context.Context, id string) (bool, error) {
	k := uint64(liveKey(id))
	var held bool
	err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)`, int64(k>>32), int64(k&0xffffffff)).Scan(&held)
	return held, err
}

// rescueLoop runs rescue every RescueEvery until ctx ends (the leader's
// term); a failed pass is reported and retried.
func (r *Runner) rescueLoop(ctx context.Context) error {
	t := time.NewTicker(RescueEvery)
	defer t.Stop()
	for {
		if _, err := r.rescue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("jobs: rescuing the jobs of replicas that are gone", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
