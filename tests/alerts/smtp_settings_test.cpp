// The SMTP settings of `alerts --send` and `report --email`: URLs, --tls, the login file and the
// environment, the default TLS mode, and the dead-letter records of the outbox.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "mpilake/alerts/outbox.hpp"
#include "mpilake/alerts/smtp_sender.hpp"

namespace mpilake::alerts {
namespace {

namespace fs = std::filesystem;

class SmtpSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpilake_smtp_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ::unsetenv("MPILAKE_SMTP_USER");
    ::unsetenv("MPILAKE_SMTP_PASSWORD");
  }
  void TearDown() override {
    fs::remove_all(dir_);
    ::unsetenv("MPILAKE_SMTP_USER");
    ::unsetenv("MPILAKE_SMTP_PASSWORD");
  }
  fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  fs::path dir_;
};

TEST_F(SmtpSettingsTest, Urls) {
  for (const char* good : {"smtp://127.0.0.1:2525", "smtps://mail.example.com:465", "smtps://mail.example.com/"})
    EXPECT_NO_THROW(check_smtp_url(good)) << good;
  for (const char* bad : {"http://x:25", "smtp://", "smtps://:465", "smtp://user:pw@x:25", "smtp://x:25/path",
                          "smtp://x:25?q", "smtps://x y:465"})
    EXPECT_THROW(check_smtp_url(bad), std::invalid_argument) << bad;
}

TEST_F(SmtpSettingsTest, TlsModes) {
  EXPECT_EQ(parse_tls_mode("required"), TlsMode::Required);
  EXPECT_EQ(parse_tls_mode("opportunistic"), TlsMode::Opportunistic);
  EXPECT_EQ(parse_tls_mode("off"), TlsMode::Off);
  EXPECT_THROW(parse_tls_mode("yes"), std::invalid_argument);
  EXPECT_THROW(parse_tls_mode(""), std::invalid_argument);
  SmtpSettings settings{"smtp://h:25", std::nullopt, {}, std::nullopt};
  EXPECT_EQ(default_tls_mode(settings), TlsMode::Opportunistic);
  settings.login = SmtpLogin{"u", "p"};
  EXPECT_EQ(default_tls_mode(settings), TlsMode::Required);  // never a password in the clear by default
  settings.tls = TlsMode::Off;
  EXPECT_EQ(default_tls_mode(settings), TlsMode::Off);  // said explicitly
  settings.url = "smtps://h:465";
  EXPECT_THROW(check_smtp_settings(settings), std::invalid_argument);
  settings.tls = TlsMode::Required;
  EXPECT_NO_THROW(check_smtp_settings(settings));
  settings.ca_file = dir_ / "missing.pem";
  EXPECT_THROW(check_smtp_settings(settings), std::invalid_argument);
}

TEST_F(SmtpSettingsTest, LoginFile) {
  const auto login = read_smtp_login(write("ok", "# relay\n  user = alerts@deloton.com \npassword=s3 cret=x\n"));
  ASSERT_TRUE(login);
  EXPECT_EQ(login->user, "alerts@deloton.com");
  EXPECT_EQ(login->password, "s3 cret=x");  // the first '=' splits; the ends are trimmed
  const auto message = [&](const fs::path& path) {
    try {
      read_smtp_login(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(write("open", "user = u\npassword = p\n", 0644)).find("chmod 600"), std::string::npos);
  EXPECT_NE(message(write("group", "user = u\npassword = p\n", 0640)).find("readable by other users"),
            std::string::npos);
  EXPECT_NE(message(dir_ / "missing").find("--smtp-auth-file"), std::string::npos);
  EXPECT_NE(message(write("nopw", "user = u\n")).find("'password = SECRET'"), std::string::npos);
  EXPECT_NE(message(write("junk", "user = u\npassword = p\nport = 25\n")).find("line 3"), std::string::npos);
  EXPECT_NE(message(dir_).find("is not a file"), std::string::npos);
  // Empty password is allowed (some relays take a token as the user); an empty user is not.
  EXPECT_TRUE(read_smtp_login(write("empty_pw", "user = u\npassword =\n")));
  EXPECT_NE(message(write("empty_user", "user =\npassword = p\n")).find("needs"), std::string::npos);
}

TEST_F(SmtpSettingsTest, LoginEnvironment) {
  EXPECT_FALSE(read_smtp_login(std::nullopt));
  ::setenv("MPILAKE_SMTP_USER", "u", 1);
  EXPECT_THROW(read_smtp_login(std::nullopt), std::runtime_error);  // the password is missing
  ::setenv("MPILAKE_SMTP_PASSWORD", "p w", 1);
  const auto login = read_smtp_login(std::nullopt);
  ASSERT_TRUE(login);
  EXPECT_EQ(login->user, "u");
  EXPECT_EQ(login->password, "p w");
  // The file wins over the environment.
  const auto from_file = read_smtp_login(write("f", "user = file\npassword = x\n"));
  EXPECT_EQ(from_file->user, "file");
  ::unsetenv("MPILAKE_SMTP_USER");
  EXPECT_THROW(read_smtp_login(std::nullopt), std::runtime_error);  // a password without a user
}

TEST_F(SmtpSettingsTest, SettingsFromOptions) {
  const auto settings =
      smtp_settings("--send", "smtp://h:587", std::string("required"), std::string(write("ca.pem", "x").string()),
                    std::string(write("login", "user = u\npassword = p\n").string()));
  EXPECT_EQ(settings.tls, TlsMode::Required);
  ASSERT_TRUE(settings.login);
  EXPECT_EQ(settings.login->user, "u");
  const auto message = [](auto&& call) {
    try {
      call();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(
      message([] { smtp_settings("--email", "smtp://u:p@h:25", {}, {}, {}); }).rfind("--email 'smtp://u:p@h:25'", 0),
      0U);
  EXPECT_EQ(message([] { smtp_settings("--send", "smtp://h:25", std::string("maybe"), {}, {}); }).rfind("--tls", 0),
            0U);
}

TEST_F(SmtpSettingsTest, DeadLetterRecords) {
  const fs::path path = dir_ / "alerts_dead_letter.jsonl";
  {
    DeliveryLog dead(path, DeliveryLog::Kind::DeadLetter);
    dead.append(DeliveryRecord{"run1", 26, "<m26@x>", alert_key(7, 1026, "bike"), "2026-12-06T12:00:00Z",
                               "sarah@example.com", 550, "smtp://h:25 refused the message: 550 5.1.1 unknown"});
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("\"reason\":\"smtp://h:25 refused the message: 550 5.1.1 unknown\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"failed_utc\":\"2026-12-06T12:00:00Z\""), std::string::npos) << line;
  EXPECT_EQ(line.find("delivered_utc"), std::string::npos) << line;
  DeliveryLog again(path, DeliveryLog::Kind::DeadLetter);
  ASSERT_EQ(again.records().size(), 1U);
  EXPECT_TRUE(again.delivered("run1", 26));
  EXPECT_EQ(again.delivered_by(alert_key(7, 1026, "bike")), "run1");
  EXPECT_EQ(again.records()[0].reply_code, 550);
  EXPECT_EQ(again.records()[0].recipient, "sarah@example.com");
}

}  // namespace
}  // namespace mpilake::alerts
