-- The dashboard lists every action of every active episode with its summary and error: an
-- index that holds those columns answers it without reading the wide action rows (about five
-- times faster with 1,000 active escalations; bench/bench_dashboard.py).

CREATE INDEX actions_cards ON actions (episode_id, seq, plan_id, kind, step_id, status, summary, error);
