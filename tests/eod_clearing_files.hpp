#pragma once
// Clearing files written the way each clearing side writes them, from rows a test chooses (a second
// implementation of each format, independent of eod/src/clearing_export.cpp): the tests plant
// differences and faults into them. Summaries are computed from the rows, so a file is well formed
// unless a test breaks it on purpose.

#include <string>
#include <vector>

#include <fmt/format.h>

#include "promoledger/eod/clearing_file.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::testing {

struct ClearingRow {
  std::string id;
  std::string amount;        // "35.50"
  std::string time;          // local "2026-11-24 09:05:00"
  std::string status;        // platform: SUCCESS | REVERSED | REFUND; wechat: SUCCESS | REFUND; alipay: 交易 | 退款
  std::string discount = "0.00";  // platform only
  std::string channel = "wechat";  // platform only
};

inline std::int64_t fen_of(const std::string& amount) { return ledger::Money::parse(amount).value().fen(); }

inline std::string platform_file(const std::vector<ClearingRow>& rows) {
  std::string out = "payment_id,channel,merchant,payer,amount,discount,paid_at,status\n";
  ledger::WideFen pays = 0, refunds = 0;
  for (const auto& r : rows) {
    out += fmt::format("{},{},M1,P1,{},{},{}T{}+08:00,{}\n", r.id, r.channel, r.amount, r.discount, r.time.substr(0, 10),
                       r.time.substr(11), r.status);
    if (r.status != "REFUND") pays += fen_of(r.amount);
    if (r.status != "SUCCESS") refunds += fen_of(r.amount);
  }
  return out + fmt::format("#summary,{},{},{}\n", rows.size(), ledger::format_fen(pays), ledger::format_fen(refunds));
}

inline std::string wechat_bill(const std::vector<ClearingRow>& rows) {
  std::string out =
      "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
      "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
      "手续费,费率,订单金额,申请退款金额,费率备注\n";
  ledger::WideFen pays = 0, refunds = 0;
  for (const auto& r : rows) {
    const bool refund = r.status == "REFUND";
    out += fmt::format("`{},`wx2421b1c4370ec43b,`10000100,`0,`013467007045764,`4200000001{},`{},`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,"
                       "`NATIVE,`{},`CMC,`CNY,`{},`0.00,`{},`{},`{},`0.00,`{},`{},`noodles,`,`0.00000,`0.60%,`{},`{},`\n",
                       r.time, r.id.size(), r.id, r.status, r.amount, refund ? "50000001" : "0", refund ? "R" + r.id : "0",
                       refund ? r.amount : "0.00", refund ? "ORIGINAL" : "", refund ? "SUCCESS" : "", r.amount,
                       refund ? r.amount : "0.00");
    (refund ? refunds : pays) += fen_of(r.amount);
  }
  out += "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n";
  out += fmt::format("`{},`{},`{},`0.00,`0.00000,`{},`{}\n", rows.size(), ledger::format_fen(pays),
                     ledger::format_fen(refunds), ledger::format_fen(pays), ledger::format_fen(refunds));
  return out;
}

// UTF-8 text of an Alipay 业务明细 (the tests convert it to GBK with eod::utf8_to_gbk, as Alipay sends it).
inline std::string alipay_detail_utf8(const std::vector<ClearingRow>& rows, const std::string& day = "2026年11月24日",
                                      const std::string& next = "2026年11月25日") {
  std::string out = "#支付宝业务明细查询\n#账号：[20881234567890120156]\n";
  out += fmt::format("#起始日期：[{} 00:00:00]   终止日期：[{} 00:00:00]\n", day, next);
  out += "#-----------------------------------------业务明细列表----------------------------------------\n"
         "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
         "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
         "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n";
  std::int64_t trades = 0, refunds = 0;
  ledger::WideFen trade_fen = 0, refund_fen = 0;
  for (const auto& r : rows) {
    const bool refund = r.status == "退款";
    const std::string signed_amount = (refund ? "-" : "") + r.amount;
    out += fmt::format("2017073121001004{}\t,{}\t,{}\t,面条\t,{}\t,{}\t,\t,\t,\t,\t,buyer@example.com\t,{}\t,{}\t,0.00\t,0.00\t,"
                       "0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,{}\t,0.00\t,0.00\t,\t\n",
                       r.id.size(), r.id, r.status, r.time, r.time, signed_amount, signed_amount, refund ? "R" + r.id : "");
    if (refund) {
      ++refunds;
      refund_fen += fen_of(r.amount);
    } else {
      ++trades;
      trade_fen += fen_of(r.amount);
    }
  }
  out += "#-----------------------------------------业务明细列表结束------------------------------------\n";
  out += fmt::format("#交易合计：{}笔，商家实收共{}元，商家实收共{}元；\n", trades, ledger::format_fen(trade_fen),
                     ledger::format_fen(trade_fen));
  out += fmt::format("#退款合计：{}笔，商家实收退款共{}{}元，商家实收退款共{}{}元；\n", refunds, refund_fen > 0 ? "-" : "",
                     ledger::format_fen(refund_fen), refund_fen > 0 ? "-" : "", ledger::format_fen(refund_fen));
  out += "#导出时间：[2026年11月25日 00:30:00]\n";
  return out;
}

inline std::string alipay_detail(const std::vector<ClearingRow>& rows) { return eod::utf8_to_gbk(alipay_detail_utf8(rows)); }

}  // namespace promoledger::testing
