package cloudtrail

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// genReader produces a realistic delivered CloudTrail file on the fly:
// {"Records":[…]} of n records from a few hundred principals, mixed
// services and event names, with a daily activity pattern (busy office
// hours, quiet nights). It holds one record at a time.
type genReader struct {
	rng       *rand.Rand
	n, i      int
	t         time.Time
	buf, rest []byte
	done      bool
	users     []genUser
}

type genUser struct {
	name, key, principal string
	role                 bool
}

// genTargetKey is an access key id that appears in about 1 record in
// 1,000 of the generated stream: the credential under review.
const genTargetKey = "AKIAGENTARGET0000042"

func newGenReader(seed uint64, n int) *genReader {
	g := &genReader{rng: rand.New(rand.NewPCG(seed, 42)), n: n, t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 300 {
		u := genUser{name: fmt.Sprintf("user%03d", i), key: fmt.Sprintf("AKIAGEN%013d", i), principal: fmt.Sprintf("AIDAGEN%013d", i)}
		if i%5 == 0 {
			u = genUser{name: fmt.Sprintf("role%03d", i), key: fmt.Sprintf("ASIAGEN%013d", i), principal: fmt.Sprintf("AROAGEN%013d:session-%d", i, i), role: true}
		}
		g.users = append(g.users, u)
	}
	g.rest = []byte(`{"Records":[`)
	return g
}

// genBytes returns the whole generated file for n records.
func genBytes(seed uint64, n int) []byte {
	b, err := io.ReadAll(newGenReader(seed, n))
	if err != nil {
		panic(err)
	}
	return b
}

var genHourWeight = [24]int{1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 12, 16, 18, 18, 16, 12, 8, 5, 3, 2, 2, 1}

var genEvents = []struct {
	source, name string
	weight       int
	readOnly     bool
}{
	{"s3.amazonaws.com", "GetObject", 30, true},
	{"s3.amazonaws.com", "PutObject", 10, false},
	{"s3.amazonaws.com", "ListBuckets", 4, true},
	{"ec2.amazonaws.com", "DescribeInstances", 15, true},
	{"sts.amazonaws.com", "GetCallerIdentity", 6, true},
	{"sts.amazonaws.com", "AssumeRole", 5, true},
	{"kms.amazonaws.com", "Decrypt", 12, true},
	{"iam.amazonaws.com", "ListUsers", 3, true},
	{"iam.amazonaws.com", "CreateAccessKey", 1, false},
	{"lambda.amazonaws.com", "Invoke", 8, false},
	{"dynamodb.amazonaws.com", "DescribeTable", 6, true},
}

func (g *genReader) next() {
	// Advance time: mean gap shaped by the hour of day.
	w := genHourWeight[g.t.Hour()]
	g.t = g.t.Add(time.Duration(g.rng.IntN(400/w+1)) * time.Millisecond * 10)
	total := 0
	for _, e := range genEvents {
		total += e.weight
	}
	pick := g.rng.IntN(total)
	ev := genEvents[0]
	for _, e := range genEvents {
		if pick < e.weight {
			ev = e
			break
		}
		pick -= e.weight
	}
	// A Zipf-like choice: a few principals do most of the work.
	u := g.users[int(float64(len(g.users))*g.rng.Float64()*g.rng.Float64())]
	key := u.key
	if g.rng.IntN(1000) == 0 {
		key = genTargetKey
	}
	b := g.buf[:0]
	if g.i > 0 {
		b = append(b, ',')
	}
	if u.role {
		b = fmt.Appendf(b, `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"%s","arn":"arn:aws:sts::123456789012:assumed-role/%s/session","accountId":"123456789012","accessKeyId":"%s","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"%.21s","arn":"arn:aws:iam::123456789012:role/%s","accountId":"123456789012","userName":"%s"},"webIdFederationData":{},"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}},`,
			u.principal, u.name, key, u.principal, u.name, u.name, g.t.Add(-time.Hour).Format(time.RFC3339))
	} else {
		b = fmt.Appendf(b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"%s","arn":"arn:aws:iam::123456789012:user/%s","accountId":"123456789012","accessKeyId":"%s","userName":"%s"},`,
			u.principal, u.name, key, u.name)
	}
	b = fmt.Appendf(b, `"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"%s","sourceIPAddress":"198.51.%d.%d","userAgent":"aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/%s#1.0.0",`,
		g.t.Format(time.RFC3339), ev.source, ev.name, [...]string{"us-east-1", "eu-west-1", "us-west-2"}[g.rng.IntN(3)], g.rng.IntN(4), g.rng.IntN(250), ev.name)
	if g.rng.IntN(50) == 0 {
		b = append(b, `"errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this action because no identity-based policy allows it",`...)
	}
	switch ev.name {
	case "GetObject", "PutObject":
		b = fmt.Appendf(b, `"requestParameters":{"bucketName":"data-%d","Host":"data-%d.s3.amazonaws.com","key":"exports/%d/part-%05d.parquet"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4","bytesTransferredOut":%d},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::data-%d/exports/part.parquet"},{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data-%d"}],`,
			g.rng.IntN(20), g.rng.IntN(20), g.rng.IntN(100), g.rng.IntN(10000), g.rng.IntN(1<<20), g.rng.IntN(20), g.rng.IntN(20))
	case "AssumeRole":
		b = fmt.Appendf(b, `"requestParameters":{"roleArn":"arn:aws:iam::123456789012:role/deploy","roleSessionName":"s%d","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":"ASIAGENNEW%010d","sessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS","expiration":"Mar 1, 2026, 10:00:00 AM"},"assumedRoleUser":{"assumedRoleId":"AROAGENDEPLOY:s%d","arn":"arn:aws:sts::123456789012:assumed-role/deploy/s%d"}},`,
			g.i, g.i, g.i, g.i)
	case "CreateAccessKey":
		b = fmt.Appendf(b, `"requestParameters":{"userName":"svc%d"},"responseElements":{"accessKey":{"accessKeyId":"AKIAGENNEW%010d","status":"Active","userName":"svc%d","createDate":"Mar 1, 2026 9:00:00 AM"}},`, g.i%50, g.i, g.i%50)
	default:
		b = fmt.Appendf(b, `"requestParameters":{"maxResults":%d,"filterSet":{"items":[{"name":"tag:team","valueSet":{"items":[{"value":"payments"}]}}]}},"responseElements":null,`, g.rng.IntN(1000))
	}
	b = fmt.Appendf(b, `"requestID":"%08x-%04x-4%03x-8%03x-%012x","eventID":"%08x-%04x-4%03x-9%03x-%012x","readOnly":%t,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"%s"}}`,
		g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Uint64()&(1<<48-1),
		g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Uint64()&(1<<48-1), ev.readOnly, ev.source)
	g.buf = b
	g.rest = b
	g.i++
}

func (g *genReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(g.rest) == 0 {
			switch {
			case g.done:
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			case g.i == g.n:
				g.rest = []byte("]}\n")
				g.done = true
			default:
				g.next()
			}
		}
		c := copy(p[n:], g.rest)
		g.rest = g.rest[c:]
		n += c
	}
	return n, nil
}
