declare global {
  namespace Express {
    interface Request {
      /** Set by the bot-detection middleware from the User-Agent header. */
      isBot?: boolean;
    }
  }
}

export {};
