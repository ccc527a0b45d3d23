// Package sms delivers one-time codes through interchangeable SMS
// providers, for the send-otp job.
//
// # Interface
//
// A Provider has one method that matters, Send(ctx, Message). Message
// carries the E.164 number, the code, an optional full text and Ref, the
// caller's challenge id. Two optional interfaces cover what differs
// between providers:
//
//   - Verifier: the provider generates and checks its own code (Twilio
//     Verify). Send ignores Message.Code; the code the user types goes to
//     Check instead of being compared with a stored hash.
//   - Reconciler: the provider can say after the fact whether it accepted
//     a message (SMS.ir). Lookup is for Ambiguous failures.
//
// Open builds the provider named by ATLAS_SMS_PROVIDER from environment
// variables; the New… constructors take Config structs.
//
// # Failures
//
// Every failed Send returns an *Error whose Kind says what sending the
// same message again would do:
//
//   - Retryable: the provider did not accept the message; sending again is
//     safe and may succeed. The job retries (5 attempts, exponential
//     backoff from 1 s).
//   - Permanent: retrying cannot help (bad number, bad key, no credit,
//     unknown template, number outside the provider's coverage). The job
//     gives up and the user is told.
//   - Ambiguous: the provider may have accepted the message: the request
//     was completely written and then the connection timed out or broke,
//     or the provider answered with an error that it may send after
//     queueing the message. Sending again risks a second SMS (with the
//     same code, so harmless to the user but paid for). A caller should
//     ask a Reconciler when the provider is one; otherwise it should not
//     resend on its own, and leave the user to ask for a new code.
//
// "Before or after sending" is decided from net/http: a *net.OpError
// with Op "dial" (connection refused, DNS failure) means no connection
// existed, and httptrace's WroteRequest hook tells whether the whole
// request reached the connection before a failure. net/http itself only
// retries a POST when nothing was written, and this package never sets the
// Idempotency-Key header that would make it replay one.
//
// Classification per provider (HTTP status, provider code):
//
//	provider       Retryable                       Permanent                          Ambiguous
//	all HTTP       dial error; failure before the  bad config; number not served;     failure after the request
//	               request was fully written       missing code                       was written (not Twilio)
//	kavenegar      HTTP 429, 503 (no envelope);    return.status 400 401 403-407      other 5xx without envelope;
//	               status 402, 409                 411-419 422 424 426 428 431 432,   unreadable 2xx
//	                                               any other 4xx status
//	smsir          HTTP 429, 503; status 20        HTTP 401, other 4xx; status 10-16  HTTP 500 (status 0) and
//	                                               101-124                            other 5xx; unreadable 2xx
//	twilio-verify  HTTP 429 and 5xx; 20429 60212;  other 4xx; 20003 20404 21211       never: a re-send within the
//	               failure after write; bad 2xx    21608 21614 60200 60203 60205 ...  pending verification is harmless
//	file           I/O error                       permission denied, missing dir     -
//	console        never fails
//
// Kavenegar reports errors both in the HTTP status and in the envelope's
// return.status; the envelope wins. SMS.ir returns HTTP 400 for logical
// errors, 401 for authentication, 429 for rate limits and 500 for
// unexpected errors, with its own status in the body; status 1 is
// success. Twilio's 429 responses are documented as never processed.
//
// Kavenegar has no Reconciler: a verify lookup carries no idempotency key
// and cannot be found again without the messageid an ambiguous failure
// lost. SMS.ir's Lookup searches the day's send report for the number and
// the code. Twilio needs none.
//
// # Secrets
//
// No error text and no log line holds an API key, an auth token, a code or
// a message text. Kavenegar's key travels in the URL path, and net/http's
// *url.Error repeats the URL, so transport errors keep only the
// *url.Error's cause, scrubbed of secrets. Numbers are logged masked with
// phone.Mask. The File provider is the one deliberate exception: it writes
// codes to its file, for development and end-to-end tests.
package sms
