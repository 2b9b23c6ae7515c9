-- 1,000,000 deliveries for bench/report, written set-based (generate_series), with psql
-- variables :campaigns, :days, :rows, :template, :audience, :cap, :quiet and :dedup (rule ids).
--
-- 100,000 subscribers; :campaigns completed campaigns, one message each, share 90% of the
-- rows; the other 10% belong to transactional messages of five deliveries each (20,000
-- of them). Channels: email, push, webhook, inbox. Days: the last :days UTC days. Every
-- status appears, in proportions a real log might have, and filtered rows carry the
-- check, the rule (caps, quiet hours, dedup) or block-list entry, and a reason.
\set ON_ERROR_STOP on

INSERT INTO subscribers (external_id, email, timezone, locale, tags, attributes, created_at, updated_at)
SELECT 'user-' || i, 'user' || i || '@example.com', 'UTC', 'en', '[]', '{}', now(), now()
FROM generate_series(1, 100000) AS i;

INSERT INTO list_entries (list, kind, value, channel, reason, created_at)
VALUES ('block', 'domain', 'example.org', NULL, 'bench', now());

INSERT INTO campaigns (name, template_id, template_version, audience_id, channels, schedule, priority,
                       category, data, expires_at, status, created_by, approved_by, created_at, updated_at)
SELECT 'Campaign ' || c || ', week ' || (c % 5 + 1), :template, 1, :audience,
       '["email","push","webhook","inbox"]', '{"kind":"now"}', 0, 'news', '{}', NULL, 'completed',
       NULL, NULL, now() - make_interval(days => :days), now()
FROM generate_series(1, :campaigns) AS c;

INSERT INTO messages (kind, campaign_id, category, template_id, template_version, content, data, channels,
                      sender, dedup_key, expires_at, dispatched_at, created_at)
SELECT 'campaign', id, 'news', :template, 1, NULL, '{}', '["email","push","webhook","inbox"]',
       'campaign', NULL, NULL, now(), created_at
FROM campaigns;

INSERT INTO messages (kind, campaign_id, category, template_id, template_version, content, data, channels,
                      sender, dedup_key, expires_at, dispatched_at, created_at)
SELECT 'transactional', NULL, 'orders', :template, 1, NULL, '{}', '["email","push","webhook","inbox"]',
       'api_key:1', NULL, NULL, now(), now()
FROM generate_series(1, :rows / 50);

SELECT array_agg(id ORDER BY id) AS campaign_messages FROM messages WHERE kind = 'campaign' \gset
SELECT min(id) AS first_tx FROM messages WHERE kind = 'transactional' \gset

-- Campaign rows: i = campaigns * j + k goes to campaign k's message, subscriber j + 1
-- (unique per message). Transactional rows: five per message.
WITH rows AS (
  SELECT i,
         CASE WHEN i < :rows * 9 / 10 THEN (:'campaign_messages'::bigint[])[1 + i % :campaigns]
              ELSE :first_tx + (i - :rows * 9 / 10) / 5 END AS message_id,
         CASE WHEN i < :rows * 9 / 10 THEN (i / :campaigns) % 100000 + 1
              ELSE (i - :rows * 9 / 10) % 100000 + 1 END AS subscriber_id,
         (ARRAY['email','push','webhook','inbox'])[1 + (i / 7) % 4] AS channel,
         ((i::bigint * 7919) % 100)::int AS bucket,
         ((i::bigint * 104729) % 6)::int AS check_no,
         now() - make_interval(days => i % :days, secs => (i * 37) % 86400) AS created_at
  FROM generate_series(0, :rows - 1) AS i
)
INSERT INTO deliveries (message_id, subscriber_id, channel, status, filter, rule_id, list_entry_id, reason,
                        not_before, attempts, created_at, updated_at)
SELECT message_id, subscriber_id, channel, status,
       CASE WHEN status = 'filtered' THEN (ARRAY['opted_out','no_address','blocked','dedup','quiet_hours','frequency_cap'])[1 + check_no] END,
       CASE WHEN status = 'filtered' THEN (ARRAY[NULL, NULL, NULL, :dedup, :quiet, :cap])[1 + check_no]
            WHEN status = 'deferred' THEN :quiet END,
       CASE WHEN status = 'filtered' AND check_no = 2 THEN (SELECT min(id) FROM list_entries) END,
       CASE status
         WHEN 'filtered' THEN (ARRAY['opted out of ' || channel, 'no ' || channel || ' address', 'on the block list',
               'same content within 24h', 'outside 08:00–21:00, dropped', '3 a day, per channel, reached'])[1 + check_no]
         WHEN 'failed' THEN 'HTTP 400: {"error":"invalid token","detail":"unregistered, or expired"}'
         WHEN 'dead' THEN 'HTTP 503 after 5 attempts'
         WHEN 'expired' THEN 'the message expired before it could be sent'
       END,
       CASE WHEN status = 'deferred' THEN created_at + interval '10 hours' END,
       CASE status WHEN 'delivered' THEN 1 + bucket % 2 WHEN 'failed' THEN 1 + bucket % 4 WHEN 'dead' THEN 5
                   WHEN 'sending' THEN 1 ELSE 0 END,
       created_at,
       created_at + make_interval(secs => bucket)
FROM (
  SELECT *, CASE WHEN bucket < 70 THEN 'delivered' WHEN bucket < 82 THEN 'filtered' WHEN bucket < 86 THEN 'failed'
                 WHEN bucket < 88 THEN 'dead' WHEN bucket < 91 THEN 'queued' WHEN bucket < 94 THEN 'deferred'
                 WHEN bucket < 95 THEN 'sending' WHEN bucket < 98 THEN 'expired' ELSE 'cancelled' END AS status
  FROM rows
) AS r;

VACUUM ANALYZE;
