// The checks `mpilake report` makes before it starts the generator.
#include "mpilake/report/report_request.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace mpilake::report {
namespace {

namespace fs = std::filesystem;

TEST(ReportRequest, CalendarDates) {
  EXPECT_TRUE(is_calendar_date("2026-11-21"));
  EXPECT_TRUE(is_calendar_date("2024-02-29"));
  EXPECT_FALSE(is_calendar_date("2026-02-29"));
  EXPECT_FALSE(is_calendar_date("2026-02-30"));
  EXPECT_FALSE(is_calendar_date("2026-13-01"));
  EXPECT_FALSE(is_calendar_date("2026-00-10"));
  EXPECT_FALSE(is_calendar_date("2026-1-02"));
  EXPECT_FALSE(is_calendar_date("2026-01-02 "));
  EXPECT_FALSE(is_calendar_date("+026-01-02"));
  EXPECT_FALSE(is_calendar_date("0000-01-02"));
  EXPECT_FALSE(is_calendar_date(""));
}

TEST(ReportRequest, SmtpUrls) {
  auto endpoint = parse_smtp_url("smtp://127.0.0.1:2525");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 2525);
  endpoint = parse_smtp_url("smtp://mail.deloton.com/");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "mail.deloton.com");
  EXPECT_EQ(endpoint->port, 25);
  endpoint = parse_smtp_url("smtp://[::1]:26");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 26);
  endpoint = parse_smtp_url("smtps://mail.deloton.com");
  ASSERT_TRUE(endpoint);
  EXPECT_TRUE(endpoint->implicit_tls);
  EXPECT_EQ(endpoint->port, 465);
  for (const char* bad :
       {"http://x:25", "smtp://", "smtp://:25", "smtps://", "smtps://x:0", "smtp://x:", "smtp://x:0", "smtp://x:65536",
        "smtp://x:25x", "smtp://us er@x:25", "smtp://[::1", "smtp://[]:25", "mail.example:25"})
    EXPECT_FALSE(parse_smtp_url(bad)) << bad;
}

TEST(ReportRequest, Addresses) {
  EXPECT_TRUE(is_email_address("ceo@deloton.com"));
  for (const char* bad : {"", "ceo", "@deloton.com", "ceo@", "a@b@c", "Bcc: x@y.z", "a@b.c\r\nBcc: d@e.f", "<a@b.c>",
                          "a,b@c.d", "\"a\"@b.c"})
    EXPECT_FALSE(is_email_address(bad)) << bad;
  EXPECT_EQ(split_recipients(" a@b.c , d@e.f"), (std::vector<std::string>{"a@b.c", "d@e.f"}));
  EXPECT_EQ(split_recipients("a@b.c,,d@e.f"), (std::vector<std::string>{"a@b.c", "", "d@e.f"}));
}

TEST(ReportRequest, DefaultPrefix) {
  EXPECT_EQ(default_prefix("out", "2026-11-21"), fs::path("out/reports/deloton-2026-11-21"));
}

TEST(ReportRequest, RefusesFoldersThatAreNotDelotonRuns) {
  const fs::path folder = fs::temp_directory_path() / ("report_test_" + std::to_string(::getpid()));
  fs::remove_all(folder);
  const auto message_of = [](const fs::path& out) {
    try {
      check_deloton_run(out);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of(folder).find("no such folder"), std::string::npos);
  fs::create_directories(folder);
  EXPECT_NE(message_of(folder).find("no summary.json"), std::string::npos);
  std::ofstream(folder / "summary.json") << "{\"pipeline\": \"stedi\"}\n";
  EXPECT_NE(message_of(folder).find("not a Deloton run"), std::string::npos);
  std::ofstream(folder / "summary.json") << "[1, 2";
  EXPECT_NE(message_of(folder).find("not a JSON object"), std::string::npos);
  std::ofstream(folder / "summary.json") << "{\"pipeline\": \"deloton\"}\n";
  EXPECT_NE(message_of(folder).find("riders.h5 is missing"), std::string::npos);
  fs::remove_all(folder);
}

TEST(ReportRequest, GeneratorArguments) {
  ReportRequest request;
  request.out = "run";
  request.date = "2026-11-21";
  request.prefix = "run/reports/deloton-2026-11-21";
  EXPECT_EQ(generator_arguments(request, "g.py"),
            (std::vector<std::string>{"g.py", "--out", "run", "--date", "2026-11-21", "--prefix",
                                      "run/reports/deloton-2026-11-21"}));
  request.smtp_url = "smtp://h:25";
  request.sender = "a@b.c";
  request.recipients = {"d@e.f", "g@h.i"};
  const auto args = generator_arguments(request, "g.py");
  ASSERT_EQ(args.size(), 13U);
  EXPECT_EQ(args[12], "d@e.f,g@h.i");
  request.tls = "required";
  request.ca_file = "ca.pem";
  request.login = std::make_pair("user", "secret");
  const auto with_tls = generator_arguments(request, "g.py");
  ASSERT_EQ(with_tls.size(), 17U);
  EXPECT_EQ(with_tls[14], "required");
  EXPECT_EQ(with_tls[16], "ca.pem");
  for (const auto& arg : with_tls)
    EXPECT_EQ(arg.find("secret"), std::string::npos) << "the password is never an argument";
}

TEST(ReportRequest, GeneratorEnvironment) {
  std::string a = "PATH=/usr/bin", b = "OMPI_COMM_WORLD_RANK=0", c = "MPILAKE_SMTP_USER=old",
              d = "MPILAKE_SMTP_PASSWORD=old";
  char* environment[] = {a.data(), b.data(), c.data(), d.data(), nullptr};
  ReportRequest request;
  // Without a login of its own the generator inherits ours (the variables may be the login).
  EXPECT_EQ(generator_environment(request, environment),
            (std::vector<std::string>{"PATH=/usr/bin", "MPILAKE_SMTP_USER=old", "MPILAKE_SMTP_PASSWORD=old"}));
  request.login = std::make_pair("u", "p");
  EXPECT_EQ(generator_environment(request, environment),
            (std::vector<std::string>{"PATH=/usr/bin", "MPILAKE_SMTP_USER=u", "MPILAKE_SMTP_PASSWORD=p"}));
}

}  // namespace
}  // namespace mpilake::report
