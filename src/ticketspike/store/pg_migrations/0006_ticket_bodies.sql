-- Ticket bodies apart from the ticket's JSON: a window read (theme analysis, summaries,
-- banners) reads a prefix of ``body`` and ``body_length`` and never decodes a whole body;
-- only the read of one ticket takes the body whole. Rows written before this version keep
-- their body inside ``event`` (``body`` NULL), and the reads handle both.

ALTER TABLE tickets ADD COLUMN body TEXT;
ALTER TABLE tickets ADD COLUMN body_length INTEGER;
