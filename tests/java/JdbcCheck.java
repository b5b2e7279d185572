// JdbcCheck.java - pgjdbc, the driver DBeaver (and most Java tools) use, against a
// streamlake server's PostgreSQL protocol.  Run by tests/sql/test_pgwire_tools.py:
//
//   javac -d DIR tests/java/JdbcCheck.java
//   java -cp /usr/share/java/postgresql.jar:DIR JdbcCheck PORT
//
// It does what DBeaver's navigator and SQL editor do: DatabaseMetaData (product,
// schemas, catalogs, tables, columns, keys, indexes, types), a Statement and a
// PreparedStatement run past pgjdbc's prepareThreshold (so it switches to named
// server-side statements and binary results), every type of the engine through
// the ResultSet getters, setFetchSize with autocommit off (a portal read in pages),
// an error that leaves the connection usable, and the catalog queries DBeaver's
// PostgreSQL plugin sends when it connects and opens a table (as it sends them:
// prepared, with its parameters).
//
// Prints one JSON object on standard output: each step's name and what it got, or
// "error: SQLSTATE message" when the step threw.  The test asserts on it.
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

public class JdbcCheck {
    static final Map<String, Object> out = new LinkedHashMap<>();

    interface Step {
        Object run() throws Exception;
    }

    static void step(String name, Step s) {
        try {
            out.put(name, s.run());
        } catch (SQLException e) {
            out.put(name, "error: " + e.getSQLState() + " " + e.getMessage());
        } catch (Exception e) {
            out.put(name, "error: " + e);
        }
    }

    /* The named columns of every row. */
    static List<List<Object>> rows(ResultSet rs, String... cols) throws SQLException {
        List<List<Object>> all = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                List<Object> r = new ArrayList<>();
                for (String c : cols)
                    r.add(rs.getObject(c) == null ? null : rs.getString(c));
                all.add(r);
            }
        }
        return all;
    }

    /* A query as DBeaver sends it: prepared, its parameters set; the row count, the
     * column labels and the values of `keep` in each row. */
    static Map<String, Object> dbeaver(Connection c, String sql, Object[] params, String... keep)
        throws SQLException {
        Map<String, Object> m = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                if (params[i] instanceof Long)
                    ps.setLong(i + 1, (Long) params[i]);
                else
                    ps.setString(i + 1, (String) params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                List<String> labels = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++)
                    labels.add(md.getColumnLabel(i));
                m.put("columns", labels);
                List<List<Object>> kept = new ArrayList<>();
                int n = 0;
                while (rs.next()) {
                    n++;
                    List<Object> r = new ArrayList<>();
                    for (String k : keep)
                        r.add(rs.getString(k));
                    kept.add(r);
                }
                m.put("rows", n);
                m.put("values", kept);
            }
        }
        return m;
    }

    static final String ALL_TYPES =
        "SELECT true AS b, 7::int2 AS i2, -5::int4 AS i4, 1099511627776::int8 AS i8, "
        + "1.5::float4 AS f4, -2.25::float8 AS f8, 12.50::numeric(6,2) AS nu, 'héllo'::text AS t, "
        + "'\\x00ff'::bytea AS by, '2024-02-29'::date AS d, '2024-01-02 03:04:05.123456'::timestamp AS ts, "
        + "'2024-01-02 03:04:05.5+00'::timestamptz AS tz, interval '1 day 2 hours 3 seconds' AS iv, "
        + "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '{\"k\": [1, null]}'::jsonb AS js, "
        + "'{a,NULL,c}'::text[] AS ar, NULL::int4 AS nul";

    /* Every column through the getter a Java program would use for its type. */
    static List<Object> allTypes(ResultSet rs) throws SQLException {
        List<Object> v = new ArrayList<>();
        v.add(rs.getBoolean("b"));
        v.add((int) rs.getShort("i2"));
        v.add(rs.getInt("i4"));
        v.add(rs.getLong("i8"));
        v.add((double) rs.getFloat("f4"));
        v.add(rs.getDouble("f8"));
        v.add(rs.getBigDecimal("nu").toPlainString());
        v.add(rs.getString("t"));
        v.add(Arrays.toString(rs.getBytes("by")));
        v.add(rs.getDate("d").toString());
        v.add(rs.getTimestamp("ts").toString());
        v.add(rs.getObject("tz", OffsetDateTime.class).withOffsetSameInstant(ZoneOffset.UTC).toString());
        v.add(rs.getString("iv"));
        v.add(rs.getObject("id", UUID.class).toString());
        v.add(rs.getString("js"));
        Array a = rs.getArray("ar");
        v.add(Arrays.asList((Object[]) a.getArray()));
        v.add(a.getBaseTypeName());
        rs.getInt("nul");
        v.add(rs.wasNull());
        return v;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/lake?user=dbeaver";
        Connection c = DriverManager.getConnection(url);

        step("product", () -> {
            DatabaseMetaData md = c.getMetaData();
            return List.of(md.getDatabaseProductName(), md.getDatabaseProductVersion(),
                           md.getDatabaseMajorVersion(), md.getUserName(), md.getURL());
        });
        step("schemas", () -> rows(c.getMetaData().getSchemas(), "TABLE_SCHEM"));
        step("catalogs", () -> rows(c.getMetaData().getCatalogs(), "TABLE_CAT"));
        step("tables", () -> rows(c.getMetaData().getTables(null, "public", "%",
                                                            new String[] {"TABLE", "VIEW"}),
                                  "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE"));
        step("table_types", () -> rows(c.getMetaData().getTableTypes(), "TABLE_TYPE"));
        step("columns_processes", () -> rows(c.getMetaData().getColumns(null, "public", "processes", "%"),
                                             "COLUMN_NAME", "TYPE_NAME", "DATA_TYPE", "NULLABLE",
                                             "ORDINAL_POSITION"));
        step("create_user_table", () -> {
            try (Statement st = c.createStatement()) {
                st.execute("DROP TABLE IF EXISTS jdbc_t");
                st.execute("CREATE TABLE jdbc_t (id bigint, name varchar(20), price numeric(10,2), "
                           + "tags text[], at timestamptz, ok boolean)");
                return st.executeUpdate("INSERT INTO jdbc_t SELECT g, 'n' || g, g * 1.25, "
                                        + "ARRAY['x', 'y'], timestamptz '2026-01-01 00:00:00+00' + "
                                        + "g * interval '1 minute', g % 2 = 0 FROM generate_series(1, 100) g");
            }
        });
        step("columns_user", () -> rows(c.getMetaData().getColumns(null, "public", "jdbc_t", "%"),
                                        "COLUMN_NAME", "TYPE_NAME", "DATA_TYPE", "COLUMN_SIZE",
                                        "DECIMAL_DIGITS"));
        step("primary_keys", () -> rows(c.getMetaData().getPrimaryKeys(null, "public", "jdbc_t"),
                                        "COLUMN_NAME").size());
        step("index_info", () -> rows(c.getMetaData().getIndexInfo(null, "public", "processes", false, true),
                                      "INDEX_NAME").size());
        step("imported_keys", () -> rows(c.getMetaData().getImportedKeys(null, "public", "jdbc_t"),
                                         "FKCOLUMN_NAME").size());
        step("exported_keys", () -> rows(c.getMetaData().getExportedKeys(null, "public", "jdbc_t"),
                                         "FKCOLUMN_NAME").size());
        step("type_info", () -> {
            List<Object> names = new ArrayList<>();
            for (List<Object> r : rows(c.getMetaData().getTypeInfo(), "TYPE_NAME"))
                names.add(r.get(0));
            return names;
        });
        step("procedures", () -> rows(c.getMetaData().getProcedures(null, "public", "%"),
                                      "PROCEDURE_NAME").size());

        // The SQL editor: a plain Statement, the types of its columns, every getter.
        step("statement_types", () -> {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(ALL_TYPES)) {
                rs.next();
                return allTypes(rs);
            }
        });
        step("column_type_names", () -> {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(ALL_TYPES)) {
                ResultSetMetaData md = rs.getMetaData();
                List<Object> t = new ArrayList<>();
                for (int i = 1; i <= md.getColumnCount(); i++)
                    t.add(md.getColumnTypeName(i));
                return t;
            }
        });
        // Prepared, ten times: pgjdbc names the statement on the server from the fifth
        // run on and asks for binary results; every run must read the same.
        step("prepared_types", () -> {
            List<Object> runs = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(ALL_TYPES)) {
                for (int i = 0; i < 10; i++) {
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        runs.add(allTypes(rs));
                    }
                }
            }
            return runs;
        });
        step("prepared_params", () -> {
            List<Object> runs = new ArrayList<>();
            String q = "SELECT count(*), min(id), max(name) FROM jdbc_t WHERE id >= ? AND name <> ? AND at < ?";
            try (PreparedStatement ps = c.prepareStatement(q)) {
                for (int i = 0; i < 10; i++) {
                    ps.setInt(1, 10 * i);
                    ps.setString(2, "n50");
                    ps.setTimestamp(3, Timestamp.valueOf("2026-01-01 01:00:00"));
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        runs.add(Arrays.asList(rs.getLong(1), rs.getObject(2), rs.getString(3)));
                    }
                }
            }
            return runs;
        });
        step("prepared_insert", () -> {
            int n = 0;
            try (PreparedStatement ps = c.prepareStatement(
                     "INSERT INTO jdbc_t (id, name, price, ok) VALUES (?, ?, ?, ?)")) {
                for (int i = 0; i < 10; i++) {
                    ps.setLong(1, 1000 + i);
                    ps.setString(2, "p" + i);
                    ps.setBigDecimal(3, new BigDecimal("2.50"));
                    ps.setBoolean(4, true);
                    n += ps.executeUpdate();
                }
            }
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT count(*), sum(price) FROM jdbc_t WHERE id >= 1000")) {
                rs.next();
                return List.of(n, rs.getLong(1), rs.getBigDecimal(2).toPlainString());
            }
        });
        // Cursor-based fetching: autocommit off and a fetch size read a portal in pages.
        step("fetch_size", () -> {
            c.setAutoCommit(false);
            long n = 0, sum = 0, last = 0;
            try (Statement st = c.createStatement()) {
                st.setFetchSize(100);
                try (ResultSet rs = st.executeQuery("SELECT g FROM generate_series(1, 1050) g ORDER BY g")) {
                    while (rs.next()) {
                        n++;
                        sum += rs.getLong(1);
                        last = rs.getLong(1);
                    }
                }
            }
            c.commit();
            c.setAutoCommit(true);
            return List.of(n, sum, last);
        });
        // An error leaves the connection usable, in autocommit and in a transaction.
        step("error", () -> {
            List<Object> got = new ArrayList<>();
            try (Statement st = c.createStatement()) {
                try {
                    st.executeQuery("SELECT 1 / 0");
                } catch (SQLException e) {
                    got.add(e.getSQLState());
                }
                try {
                    st.executeQuery("SELECT nme FROM jdbc_t");
                } catch (SQLException e) {
                    got.add(e.getSQLState());
                }
                try (ResultSet rs = st.executeQuery("SELECT 'after'")) {
                    rs.next();
                    got.add(rs.getString(1));
                }
                c.setAutoCommit(false);
                try {
                    st.executeQuery("SELECT 1 / 0");
                } catch (SQLException e) {
                    got.add(e.getSQLState());
                }
                c.rollback();
                try (ResultSet rs = st.executeQuery("SELECT 'after rollback'")) {
                    rs.next();
                    got.add(rs.getString(1));
                }
                c.commit();
                c.setAutoCommit(true);
            }
            return got;
        });

        // DBeaver's PostgreSQL plugin, as it connects, reads the database and the
        // schemas, and opens a table (its SQL, its parameters).
        Object[] none = {};
        step("dbv_current_database", () -> dbeaver(c, "SELECT current_database()", none, "current_database"));
        step("dbv_databases", () -> dbeaver(c,
            "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE 1 = 1 AND datallowconn AND NOT datistemplate "
            + "OR db.datname =?\nORDER BY db.datname", new Object[] {"lake"}, "datname"));
        step("dbv_version", () -> dbeaver(c, "SELECT version()", none, "version"));
        step("dbv_meta_exists", () -> List.of(
            dbeaver(c, "SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1", none).get("rows"),
            dbeaver(c, "SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1", none).get("rows")));
        step("dbv_database", () -> dbeaver(c, "SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname=?",
                                           new Object[] {"lake"}, "oid", "datname", "datdba", "encoding"));
        step("dbv_schema_user", () -> dbeaver(c, "SELECT current_schema(),session_user", none,
                                              "current_schema", "session_user"));
        step("dbv_search_path", () -> dbeaver(c, "SHOW search_path", none, "search_path"));
        step("dbv_settings", () -> dbeaver(c, "select * from pg_catalog.pg_settings where name=?",
                                           new Object[] {"max_index_keys"}, "name", "setting"));
        step("dbv_schemas", () -> dbeaver(c,
            "SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n\n"
            + "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND "
            + "d.classoid='pg_namespace'::regclass\n ORDER BY nspname", none, "oid", "nspname", "nspowner"));
        step("dbv_roles", () -> dbeaver(c,
            "SELECT a.oid,a.*,pd.description FROM pg_catalog.pg_roles a \n"
            + "left join pg_catalog.pg_shdescription pd on a.oid = pd.objoid\nORDER BY a.rolname",
            none, "oid", "rolname", "rolsuper", "rolcanlogin"));
        step("dbv_access_methods", () -> dbeaver(c, "SELECT am.oid,am.* FROM pg_catalog.pg_am am \nORDER BY am.oid",
                                                 none, "amname"));
        step("dbv_types", () -> dbeaver(c,
            "SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, "
            + "d.description\nFROM pg_catalog.pg_type t\n"
            + "LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem \n"
            + "LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid\n"
            + "LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid\n"
            + "WHERE t.typname IS NOT NULL\nAND (c.relkind IS NULL OR c.relkind = 'c') "
            + "AND (et.typcategory IS NULL OR et.typcategory <> 'C')", none, "typname"));
        step("dbv_tables", () -> dbeaver(c,
            "SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  "
            + "pg_catalog.pg_get_partkeydef(c.oid) as partition_key \nFROM pg_catalog.pg_class c\n"
            + "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND "
            + "d.classoid='pg_class'::regclass\nWHERE c.relnamespace=? AND c.relkind not in ('i','I','c')",
            new Object[] {2200L}, "oid", "relname", "relkind"));
        step("dbv_inheritance", () -> dbeaver(c,
            "SELECT i.inhrelid relid, pc.relnamespace parent_ns, pc.oid parent_oid, i.inhseqno\n"
            + "FROM pg_catalog.pg_inherits i, pg_class rc, pg_class pc\n"
            + "WHERE rc.oid=i.inhrelid AND rc.relnamespace=? AND pc.oid=i.inhparent",
            new Object[] {2200L}));
        step("dbv_columns", () -> {
            long oid;
            try (PreparedStatement ps = c.prepareStatement(
                     "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace=? AND relname=?")) {
                ps.setLong(1, 2200L);
                ps.setString(2, "processes");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    oid = rs.getLong(1);
                }
            }
            return dbeaver(c,
                "SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,"
                + "dsc.description,dep.objid\nFROM pg_catalog.pg_attribute a\n"
                + "INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)\n"
                + "LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)\n"
                + "LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)\n"
                + "LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and "
                + "dep.refobjsubid = a.attnum and dep.classid = dep.refclassid\n"
                + "WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=?\nORDER BY a.attnum",
                new Object[] {oid}, "attname", "atttypid", "attnum");
        });
        step("dbv_constraints", () -> dbeaver(c,
            "SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, "
            + "case when c.contype='c' then \"substring\"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy\n"
            + "FROM pg_catalog.pg_constraint c\nINNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid\n"
            + "LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid\n"
            + "LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND "
            + "d.classoid='pg_constraint'::regclass\nWHERE t.relnamespace=?\nORDER BY c.oid",
            new Object[] {2200L}));
        step("dbv_indexes", () -> dbeaver(c,
            "SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,"
            + "tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,"
            + "pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,"
            + "pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,"
            + "pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans\n"
            + "FROM pg_catalog.pg_index i\nINNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid\n"
            + "INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid\n"
            + "LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid\n"
            + "WHERE  c.relnamespace=? ORDER BY c.relname", new Object[] {2200L}));
        step("dbv_procedures", () -> dbeaver(c,
            "SELECT p.oid as poid,p.*,pg_catalog.pg_get_expr(p.proargdefaults, 0) as arg_defaults,d.description\n"
            + "FROM pg_catalog.pg_proc p\nLEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=p.oid "
            + "and d.classoid='pg_proc'::regclass  AND d.objsubid = 0\nWHERE p.pronamespace=?\nORDER BY p.proname",
            new Object[] {2200L}));
        step("dbv_table_sizes", () -> dbeaver(c,
            "SELECT pg_catalog.pg_total_relation_size(c.oid) AS total, pg_catalog.pg_relation_size(c.oid) AS rel "
            + "FROM pg_catalog.pg_class c WHERE c.relname = ?", new Object[] {"jdbc_t"}, "total", "rel"));
        // The data editor's first page of a table.
        step("dbv_read_table", () -> dbeaver(c, "SELECT * FROM public.jdbc_t\nLIMIT 200", none, "id"));

        c.close();
        System.out.println(json(out));
    }

    static String json(Object v) {
        if (v == null)
            return "null";
        if (v instanceof Boolean || v instanceof Number)
            return v.toString();
        if (v instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (b.length() > 1)
                    b.append(", ");
                b.append(json(e.getKey().toString())).append(": ").append(json(e.getValue()));
            }
            return b.append("}").toString();
        }
        if (v instanceof List) {
            StringBuilder b = new StringBuilder("[");
            for (Object o : (List<?>) v) {
                if (b.length() > 1)
                    b.append(", ");
                b.append(json(o));
            }
            return b.append("]").toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char ch : v.toString().toCharArray()) {
            if (ch == '"' || ch == '\\')
                b.append('\\').append(ch);
            else if (ch < 0x20)
                b.append(String.format("\\u%04x", (int) ch));
            else
                b.append(ch);
        }
        return b.append("\"").toString();
    }
}
