import { GraphQLError, Lexer, Source, TokenKind, type ParseOptions, type parse as graphqlParse } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Rejects documents nested deeper than `maxNesting` brackets, before graphql-js parses them.
 * The parser is recursive: a few thousand `[` or `{` overflow the stack well before any token
 * limit is reached (seen as an HTTP 500). The lexer is iterative, so this scan is safe and cheap.
 *
 * It wraps the parse function rather than running in every onParse: yoga's parse cache answers
 * a document it has seen without calling the parse function, so a known document is not scanned
 * again (and a refused one is refused from the cache's error cache). It must come after any
 * plugin that replaces the parse function (graphql-armor's token limit does), or it is dropped.
 */
export function nestingLimit(maxNesting: number, maxTokens: number): Plugin {
  const scan = (body: string) => {
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
  };
  return {
    onParse({ parseFn, setParseFn }) {
      const parse = parseFn as typeof graphqlParse;
      setParseFn((source: string | Source, options?: ParseOptions) => {
        scan(typeof source === 'string' ? source : source.body);
        return parse(source, options);
      });
    },
  };
}
