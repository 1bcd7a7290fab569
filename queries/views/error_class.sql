-- error_class: how failures are grouped (a macro: error_class(error, traceback) -> VARCHAR).
-- The exception type from the traceback's last non-blank line ("ValueError: …" -> ValueError,
-- "pkg.mod.Error: …" -> pkg.mod.Error) when there is one; otherwise the error message
-- normalised so that similar errors group, in this order: '…' -> '?', "…" -> "?",
-- UUIDs -> <uuid>, 0x… -> <hex>, words of 8+ hex digits -> <id>, numbers -> <n>, runs of
-- blanks -> one space, trimmed, at most 200 characters. NULL when there is neither.
-- Grain: one scalar.
CREATE OR REPLACE MACRO error_class(error, traceback) AS
    coalesce(
        nullif(
            regexp_extract(
                trim(list_filter(string_split(coalesce(traceback, ''), chr(10)),
                                 lambda line: trim(line) <> '')[-1]),
                '^([A-Za-z_][A-Za-z0-9_.]*)(:.*)?$',
                1
            ),
            ''
        ),
        left(trim(
            regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
            regexp_replace(regexp_replace(
                error,
                '''[^'']*''', '''?''', 'g'),
                '"[^"]*"', '"?"', 'g'),
                '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}',
                '<uuid>', 'g'),
                '0x[0-9a-fA-F]+', '<hex>', 'g'),
                '\b[0-9a-fA-F]{8,}\b', '<id>', 'g'),
                '[0-9]+(\.[0-9]+)?', '<n>', 'g'),
                '\s+', ' ', 'g')
        ), 200)
    );
