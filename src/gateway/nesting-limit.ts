import { GraphQLError, Lexer, Source, TokenKind } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Rejects documents nested deeper than `maxNesting` brackets, before graphql-js parses them.
 * The parser is recursive: a few thousand `[` or `{` overflow the stack well before any token
 * limit is reached (seen as an HTTP 500). The lexer is iterative, so this scan is safe and cheap.
 */
export function nestingLimit(maxNesting: number, maxTokens: number): Plugin {
  return {
    onParse({ params }) {
      const source = params.source as string | Source;
      const body = typeof source === 'string' ? source : source.body;
      const lexer = new Lexer(new Source(body));
      let depth = 0;
      let tokens = 0;
      try {
        for (let t = lexer.advance(); t.kind !== TokenKind.EOF && tokens <= maxTokens; t = lexer.advance(), tokens++) {
          if (t.kind === TokenKind.BRACE_L || t.kind === TokenKind.BRACKET_L || t.kind === TokenKind.PAREN_L) {
            if (++depth > maxNesting) {
              throw new GraphQLError(`Syntax Error: nesting deeper than ${maxNesting} levels.`, {
                extensions: { code: 'GRAPHQL_PARSE_FAILED', http: { status: 400 } },
              });
            }
          } else if (t.kind === TokenKind.BRACE_R || t.kind === TokenKind.BRACKET_R || t.kind === TokenKind.PAREN_R) {
            depth--;
          }
        }
      } catch (err) {
        if (err instanceof GraphQLError && err.extensions['code'] === 'GRAPHQL_PARSE_FAILED') throw err;
        // A lexical error: let the real parser report it with its own message.
      }
    },
  };
}
