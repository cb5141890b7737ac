-- The PostfixAdmin schema subset Petrel reads (tables domain, mailbox, alias, as PostfixAdmin's
-- PostgreSQL upgrade.php creates them, with the columns Petrel does not use left out or kept
-- with their defaults) and a few rows: the data behind config-examples/postfixadmin-pgsql.yaml
-- and test/integration/t-51-pgsql-tables. Loaded by test/integration/postgresql.sh as the
-- postfixadmin user.
--
--   example.test   local: alice, bob (mailboxes), gone (inactive mailbox), postmaster -> alice,
--                  sales -> alice, bob; old -> alice (inactive alias)
--   other.test     local: carol; catch-all @other.test -> carol
--   backup.test    backup MX (backupmx = true): not local
--   disabled.test  inactive: not local
-- Like PostfixAdmin, every mailbox also has an alias to itself.

CREATE TABLE domain (
  domain      varchar(255) NOT NULL PRIMARY KEY,
  description varchar(255) NOT NULL DEFAULT '',
  aliases     integer NOT NULL DEFAULT 0,
  mailboxes   integer NOT NULL DEFAULT 0,
  maxquota    bigint NOT NULL DEFAULT 0,
  quota       bigint NOT NULL DEFAULT 0,
  transport   varchar(255) DEFAULT NULL,
  backupmx    boolean NOT NULL DEFAULT false,
  created     timestamp with time zone DEFAULT now(),
  modified    timestamp with time zone DEFAULT now(),
  active      boolean NOT NULL DEFAULT true
);

CREATE TABLE mailbox (
  username   varchar(255) NOT NULL PRIMARY KEY,
  password   varchar(255) NOT NULL DEFAULT '',
  name       varchar(255) NOT NULL DEFAULT '',
  maildir    varchar(255) NOT NULL DEFAULT '',
  quota      bigint NOT NULL DEFAULT 0,
  local_part varchar(255) NOT NULL,
  domain     varchar(255) NOT NULL REFERENCES domain,
  created    timestamp with time zone DEFAULT now(),
  modified   timestamp with time zone DEFAULT now(),
  active     boolean NOT NULL DEFAULT true
);
CREATE INDEX mailbox_domain_idx ON mailbox (domain);

CREATE TABLE alias (
  address  varchar(255) NOT NULL PRIMARY KEY,
  goto     text NOT NULL,
  domain   varchar(255) NOT NULL REFERENCES domain,
  created  timestamp with time zone DEFAULT now(),
  modified timestamp with time zone DEFAULT now(),
  active   boolean NOT NULL DEFAULT true
);
CREATE INDEX alias_domain_idx ON alias (domain);

INSERT INTO domain (domain, description, backupmx, active) VALUES
  ('example.test', 'Example', false, true),
  ('other.test', 'Other', false, true),
  ('backup.test', 'We are its backup MX', true, true),
  ('disabled.test', 'Switched off', false, false);

-- Passwords are crypt(3) hashes in PostfixAdmin ({SHA512-CRYPT} of "secret" here); Petrel's
-- lookup tables do not read them.
INSERT INTO mailbox (username, password, name, maildir, local_part, domain, active) VALUES
  ('alice@example.test', '{SHA512-CRYPT}$6$x$y', 'Alice', 'example.test/alice/', 'alice',
   'example.test', true),
  ('bob@example.test', '{SHA512-CRYPT}$6$x$y', 'Bob', 'example.test/bob/', 'bob',
   'example.test', true),
  ('gone@example.test', '{SHA512-CRYPT}$6$x$y', 'Gone', 'example.test/gone/', 'gone',
   'example.test', false),
  ('carol@other.test', '{SHA512-CRYPT}$6$x$y', 'Carol', 'other.test/carol/', 'carol',
   'other.test', true);

INSERT INTO alias (address, goto, domain, active) VALUES
  ('alice@example.test', 'alice@example.test', 'example.test', true),
  ('bob@example.test', 'bob@example.test', 'example.test', true),
  ('gone@example.test', 'gone@example.test', 'example.test', false),
  ('carol@other.test', 'carol@other.test', 'other.test', true),
  ('postmaster@example.test', 'alice@example.test', 'example.test', true),
  ('sales@example.test', 'alice@example.test,bob@example.test', 'example.test', true),
  ('old@example.test', 'alice@example.test', 'example.test', false),
  ('@other.test', 'carol@other.test', 'other.test', true);
