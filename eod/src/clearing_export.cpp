// The file the clearing side would send for a closed day, written from the ledger's own payments
// (`promoledger clearing-file`): for demos, for the tests (which plant differences into it) and for the
// benchmark. Each row is formatted in SQL, set-wise, and read in one result; the summary lines come
// from one aggregate over the same rows.
#include <libpq-fe.h>

#include <fmt/format.h>

#include "internal.hpp"
#include "promoledger/eod/clearing_file.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::eod {
namespace {

// The day's rows of a profile: payments of the day (a refund row too when reversed that day) and
// reversals that day of earlier payments. Columns: kind ('P' or 'R'), the profile's line, amount_fen.
std::string rows_sql(Profile profile, const std::string& d, const std::string& channel) {
  const std::string money = "((x.amount_fen::numeric / 100)::numeric(20, 2))::text";
  const std::string base = fmt::format(
      "WITH x AS ("
      "  SELECT p.payment_id, p.channel, m.code AS merchant, m.name AS merchant_name, y.code AS payer, p.amount_fen, "
      "         p.discount_fen, p.entry_id, p.paid_at, p.business_day, r.business_day AS reversed_day "
      "    FROM promo.payment p JOIN ledger.merchant m ON m.id = p.merchant_id JOIN ledger.payer y ON y.id = p.payer_id "
      "    LEFT JOIN promo.payment_reversal r ON r.payment_id = p.payment_id "
      "   WHERE (p.business_day = DATE '{0}' OR r.business_day = DATE '{0}') {1}), "
      "k AS (SELECT 'P' AS kind, x.* FROM x WHERE x.business_day = DATE '{0}' "
      "      UNION ALL SELECT 'R', x.* FROM x WHERE x.reversed_day = DATE '{0}') ",
      d, channel.empty() ? "" : fmt::format("AND p.channel = '{}'", channel));
  const std::string local = "to_char(x.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS')";
  switch (profile) {
    case Profile::platform:
      // One row per payment: SUCCESS, REVERSED (paid and reversed that day) or REFUND (paid earlier).
      return base + fmt::format(
          "SELECT min(x.kind), concat_ws(',', x.payment_id, x.channel, x.merchant, x.payer, {0}, "
          "  ((x.discount_fen::numeric / 100)::numeric(20, 2))::text, "
          "  to_char(x.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"'), "
          "  CASE WHEN count(*) = 2 THEN 'REVERSED' WHEN min(x.kind) = 'P' THEN 'SUCCESS' ELSE 'REFUND' END), "
          "  x.amount_fen, count(*) "
          "FROM k x GROUP BY x.payment_id, x.channel, x.merchant, x.payer, x.amount_fen, x.discount_fen, x.paid_at "
          "ORDER BY x.paid_at, x.payment_id",
          money);
    case Profile::wechat:
      return base + fmt::format(
          "SELECT x.kind, '`' || concat_ws(',`', {0}, 'wx0000000000000000', '1900000109', '', '', "
          "  '42000' || lpad(x.entry_id::text, 23, '0'), x.payment_id, 'o' || md5(x.payer), 'NATIVE', "
          "  CASE x.kind WHEN 'P' THEN 'SUCCESS' ELSE 'REFUND' END, 'OTHERS', 'CNY', {1}, '0.00', "
          "  CASE x.kind WHEN 'R' THEN '50000' || lpad(x.entry_id::text, 23, '0') ELSE '0' END, "
          "  CASE x.kind WHEN 'R' THEN 'R' || x.payment_id ELSE '0' END, "
          "  CASE x.kind WHEN 'R' THEN {1} ELSE '0.00' END, '0.00', CASE x.kind WHEN 'R' THEN 'ORIGINAL' ELSE '' END, "
          "  CASE x.kind WHEN 'R' THEN 'SUCCESS' ELSE '' END, 'scan payment', '', '0.00000', '0.60%', {1}, "
          "  CASE x.kind WHEN 'R' THEN {1} ELSE '0.00' END, ''), x.amount_fen, 1 "
          "FROM k x ORDER BY x.paid_at, x.payment_id, x.kind",
          local, money);
    case Profile::alipay:
      return base + fmt::format(
          "SELECT x.kind, concat_ws(E'\\t,', '2026' || lpad(x.entry_id::text, 24, '0'), x.payment_id, "
          "  CASE x.kind WHEN 'P' THEN '交易' ELSE '退款' END, '扫码支付', {0}, {0}, x.merchant, '', '', '', x.payer, "
          "  CASE x.kind WHEN 'R' THEN '-' ELSE '' END || {1}, CASE x.kind WHEN 'R' THEN '-' ELSE '' END || {1}, "
          "  '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00', "
          "  CASE x.kind WHEN 'R' THEN 'R' || x.payment_id ELSE '' END, '0.00', '0.00', '') || E'\\t', x.amount_fen, 1 "
          "FROM k x ORDER BY x.paid_at, x.payment_id, x.kind",
          local, money);
  }
  return "";
}

std::string channel_of(Profile p) {
  switch (p) {
    case Profile::platform: return "";
    case Profile::wechat: return "wechat";
    case Profile::alipay: return "alipay";
  }
  return "";
}

// "2026年11月24日" from "2026-11-24".
std::string chinese_day(const std::string& d) { return d.substr(0, 4) + "年" + d.substr(5, 2) + "月" + d.substr(8, 2) + "日"; }

}  // namespace

Expected<std::string, EodRefusal> clearing_file_of_day(ledger::Database& database, Profile profile, date::year_month_day day) {
  const std::string d = ledger::format_day(day);
  auto lease = database.lease();
  soci::session& s = *lease;
  std::optional<std::string> closed;
  try {
    closed = detail::close_time_local(s, day);
  } catch (...) {
    ledger::rethrow_as_database_error("reading the close of the day");
  }
  if (!closed) {
    return unexpected(refuse(Code::business_day_open, "date",
                             fmt::format("business day {} is not closed: the clearing side cuts its file after the day", d)));
  }
  PGconn* conn = ledger::native_handle(s);
  const std::string sql = rows_sql(profile, d, channel_of(profile));
  soci::transaction tx(s);  // read only: for the day-wide statement's timeout (rolled back on a throw)
  ledger::exec_script(s, detail::day_statement_timeout_sql, "allowing the clearing file its time");
  PGresult* res = PQexec(conn, sql.c_str());
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    ledger::DatabaseError error(std::string("writing the clearing file: ") + PQresultErrorMessage(res), state ? state : "");
    PQclear(res);
    throw error;
  }
  const int n = PQntuples(res);
  std::string body;
  std::int64_t payments = 0, refunds = 0, rows = 0;
  ledger::WideFen payments_fen = 0, refunds_fen = 0;
  for (int i = 0; i < n; ++i) {
    const std::string_view kind = PQgetvalue(res, i, 0);
    const std::int64_t amount = std::stoll(PQgetvalue(res, i, 2));
    const bool both = std::string_view(PQgetvalue(res, i, 3)) == "2";
    body += PQgetvalue(res, i, 1);
    body += '\n';
    ++rows;
    if (kind == "P") {
      ++payments;
      payments_fen += amount;
    }
    if (kind == "R" || both) {
      ++refunds;
      refunds_fen += amount;
    }
  }
  PQclear(res);
  tx.commit();
  std::string out;
  switch (profile) {
    case Profile::platform:
      out = "payment_id,channel,merchant,payer,amount,discount,paid_at,status\n" + body +
            fmt::format("#summary,{},{},{}\n", rows, ledger::format_fen(payments_fen), ledger::format_fen(refunds_fen));
      return out;
    case Profile::wechat:
      out = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
            "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
            "手续费,费率,订单金额,申请退款金额,费率备注\n" +
            body + "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n" +
            fmt::format("`{},`{},`{},`0.00,`0.00000,`{},`{}\n", rows, ledger::format_fen(payments_fen),
                        ledger::format_fen(refunds_fen), ledger::format_fen(payments_fen), ledger::format_fen(refunds_fen));
      return out;
    case Profile::alipay: {
      const auto next = date::sys_days(day) + date::days(1);
      const std::string next_day = ledger::format_day(date::year_month_day(next));
      const std::string export_time = chinese_day(closed->substr(0, 10)) + " " + closed->substr(11, 8);
      out = "#支付宝业务明细查询\n#账号：[20880000000000000156]\n" +
            fmt::format("#起始日期：[{} 00:00:00]   终止日期：[{} 00:00:00]\n", chinese_day(d), chinese_day(next_day)) +
            "#-----------------------------------------业务明细列表----------------------------------------\n"
            "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
            "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
            "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n" +
            body + "#-----------------------------------------业务明细列表结束------------------------------------\n" +
            fmt::format("#交易合计：{}笔，商家实收共{}元，商家实收共{}元；\n", payments, ledger::format_fen(payments_fen),
                        ledger::format_fen(payments_fen)) +
            fmt::format("#退款合计：{0}笔，商家实收退款共{1}{2}元，商家实收退款共{1}{2}元；\n", refunds,
                        refunds_fen > 0 ? "-" : "", ledger::format_fen(refunds_fen)) +
            fmt::format("#导出时间：[{}]\n", export_time);
      return utf8_to_gbk(out);
    }
  }
  return out;
}

}  // namespace promoledger::eod
