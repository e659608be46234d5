import nodemailer from 'nodemailer';
import type { Mailer } from './mail.port.js';

/** Mail over SMTP through nodemailer (a pooled connection); `smtp://host:port` or `smtps://user:pass@host`. */
export function createSmtpMailer(cfg: { smtpUrl: string; from: string }): Mailer {
  const transport = nodemailer.createTransport(cfg.smtpUrl, { from: cfg.from });
  return {
    async send(mail) {
      await transport.sendMail({ from: cfg.from, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close() {
      transport.close();
      return Promise.resolve();
    },
  };
}
