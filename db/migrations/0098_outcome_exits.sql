-- Outcome memory (ADR 0035): how a closed position ended (its exit reason and the trading days it
-- was held), and why an LLM backend's reflection is missing when it could not be had (an answer
-- that failed its schema, a timeout): the record is then stored whole, with a null reflection.
ALTER TABLE outcomes ADD COLUMN exit_reason text CHECK (exit_reason IN ('stop', 'target', 'time', 'reversal', 'end', 'other'));
ALTER TABLE outcomes ADD COLUMN days_held integer CHECK (days_held >= 0);
ALTER TABLE outcomes ADD COLUMN reflection_error text;
ALTER TABLE outcomes ADD CONSTRAINT outcomes_exit_when_closed CHECK ((ended_by = 'closed') = (exit_reason IS NOT NULL AND days_held IS NOT NULL));
ALTER TABLE outcomes ADD CONSTRAINT outcomes_reflection_or_error CHECK (reflection IS NULL OR reflection_error IS NULL);
