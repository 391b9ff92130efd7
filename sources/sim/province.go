package sim

// The fixed geography of the synthetic province. Coordinates are in units of
// 1e-4 degree (30.2741 is 302741), the precision messages carry.

// A district is a GB/T 2260 county-level division people live in and venues
// stand in. Its centre is within about 13 km of its city's centre.
type district struct {
	code     string
	city     uint8 // index into cities
	lat, lng int32
}

var districts = [...]district{
	{"330102", 0, 302425, 1201697}, // Shangcheng, Hangzhou
	{"330103", 0, 302810, 1201800}, // Xiacheng
	{"330104", 0, 302650, 1202050}, // Jianggan
	{"330105", 0, 303190, 1201420}, // Gongshu
	{"330106", 0, 302600, 1201000}, // Xihu
	{"330108", 0, 302080, 1202110}, // Binjiang
	{"330109", 0, 301850, 1202550}, // Xiaoshan
	{"330110", 0, 303000, 1200400}, // Yuhang
	{"330203", 1, 298600, 1215300}, // Haishu, Ningbo
	{"330205", 1, 298950, 1215600}, // Jiangbei
	{"330212", 1, 298200, 1215600}, // Yinzhou
}

const nDistricts = len(districts)

var cities = [...]struct {
	name       string
	airport    string
	first, end int // districts[first:end]
}{
	{"Hangzhou", "HGH", 0, 8},
	{"Ningbo", "NGB", 8, 11},
}

// A region is a place a travel record can name: the province's districts
// followed by a few elsewhere in China.
type region struct {
	code     string
	lat, lng int32
}

var regions = func() []region {
	r := make([]region, 0, nDistricts+7)
	for _, d := range districts {
		r = append(r, region{d.code, d.lat, d.lng})
	}
	return append(r,
		region{"310101", 312304, 1214910}, // Huangpu, Shanghai
		region{"330602", 300000, 1205800}, // Yuecheng, Shaoxing
		region{"330302", 280200, 1206500}, // Lucheng, Wenzhou
		region{"420106", 305500, 1143200}, // Wuchang, Wuhan
		region{"110105", 399200, 1164400}, // Chaoyang, Beijing
		region{"440106", 231200, 1133600}, // Tianhe, Guangzhou
		region{"440305", 225300, 1139300}, // Nanshan, Shenzhen
	)
}()

// countries are the nationalities of foreigners and the origins of flights.
var countries = [...]string{"DEU", "ITA", "ESP", "IRN", "FRA", "GBR", "USA", "KOR", "JPN", "THA", "SGP", "RUS", "ARE", "AUS"}

func countryIndex(code string) int {
	for i, c := range countries {
		if c == code {
			return i
		}
	}
	return -1
}

// A route is a scheduled flight from abroad: it lands at the same local time
// each day it flies.
type route struct {
	number  string
	airport string // origin IATA code
	country string
	dest    string // HGH or NGB, or a port outside the province (PEK, PVG, CAN, SZX) for travel-ons
	arrive  int32  // local second of day of arrival
	dur     int32  // seconds in the air
}

var baseRoutes = [...]route{
	{"CA936", "FRA", "DEU", "HGH", 12*3600 + 20*60, 10*3600 + 15*60},
	{"MU552", "MXP", "ITA", "HGH", 7*3600 + 5*60, 11*3600 + 40*60},
	{"LH9720", "MUC", "DEU", "PEK", 16*3600 + 45*60, 10*3600 + 50*60},
	{"MU554", "CDG", "FRA", "HGH", 9*3600 + 30*60, 11*3600 + 5*60},
	{"CA908", "MAD", "ESP", "HGH", 18*3600 + 10*60, 12*3600 + 20*60},
	{"MU588", "JFK", "USA", "PVG", 20*3600 + 55*60, 14*3600 + 30*60},
	{"HU7982", "LAX", "USA", "HGH", 6*3600 + 40*60, 13*3600 + 10*60},
	{"BA169", "LHR", "GBR", "HGH", 14*3600 + 0*60, 11*3600 + 25*60},
	{"NH929", "NRT", "JPN", "HGH", 11*3600 + 15*60, 3*3600 + 35*60},
	{"KE169", "ICN", "KOR", "HGH", 10*3600 + 50*60, 2*3600 + 10*60},
	{"MU5042", "ICN", "KOR", "NGB", 13*3600 + 25*60, 2*3600 + 5*60},
	{"W59095", "IKA", "IRN", "HGH", 22*3600 + 30*60, 8*3600 + 45*60},
	{"TG664", "BKK", "THA", "CAN", 15*3600 + 35*60, 4*3600 + 20*60},
	{"SQ844", "SIN", "SGP", "HGH", 17*3600 + 50*60, 5*3600 + 10*60},
	{"SU204", "SVO", "RUS", "HGH", 8*3600 + 20*60, 8*3600 + 55*60},
	{"EK302", "DXB", "ARE", "HGH", 19*3600 + 5*60, 8*3600 + 5*60},
	{"QF129", "SYD", "AUS", "SZX", 21*3600 + 40*60, 10*3600 + 30*60},
	{"MU7062", "FCO", "ITA", "NGB", 12*3600 + 55*60, 11*3600 + 50*60},
	{"CA854", "LHR", "GBR", "NGB", 9*3600 + 10*60, 11*3600 + 35*60},
	{"ZH9036", "SFO", "USA", "NGB", 23*3600 + 15*60, 13*3600 + 0*60},
}

// routeFor returns the k-th route; past the fixed table it makes up more from
// the same airlines and airports with distinct numbers.
func routeFor(k int) route {
	if k < len(baseRoutes) {
		return baseRoutes[k]
	}
	b := baseRoutes[k%len(baseRoutes)]
	n := k / len(baseRoutes)
	r := b
	r.number = b.number[:2] + itoa(8000+k)
	r.arrive = (b.arrive + int32(n)*37*60) % 86400
	return r
}

var venueKinds = [...]string{"Market", "Restaurant", "Supermarket", "Cafe", "Gym", "Cinema", "Clinic", "Office",
	"Mall", "Bookshop", "Hotel", "Teahouse", "Bakery", "Pharmacy", "Salon", "Canteen"}

var vaccineProducts = [...]string{"CoronaVac", "BBIBP-CorV", "ZF2001"}

// Symptom names in the order of the scoring.Symptom bits.
var symptomNames = [...]string{"fever", "cough", "fatigue", "loss_of_smell", "sore_throat"}

var overrideReasons = [...]string{
	"Appeal upheld: two negative PCR tests after the last contact.",
	"Appeal upheld: itinerary record belonged to another traveller.",
	"Data entry error at the testing site corrected.",
	"Isolation ordered by the district command centre.",
	"Home observation ordered by the community health office.",
}

// overrideCodes are the reason codes of overrideReasons (the shipped
// policies' codes; "" for an appeal, which needs none).
var overrideCodes = [len(overrideReasons)]string{"", "", "", "medical-isolation", "medical-observation"}

// checkinWeight is the relative rate of venue entries by local hour of day.
var checkinWeight = [24]float64{0.1, 0.05, 0.03, 0.03, 0.05, 0.2, 0.6, 1.4, 2.0, 1.6, 1.5, 2.2,
	2.6, 1.8, 1.4, 1.4, 1.6, 2.0, 2.6, 2.4, 1.8, 1.2, 0.6, 0.25}

// hourly levels of the fixed country designations at Start, and later changes.
type countryRisk struct {
	day   int // day index from Start the designation is issued
	clock int32
	code  string
	level uint8 // levelLow..levelHigh
	until int32 // days after issue; 0 = open-ended
}

const (
	levelLow uint8 = iota + 1
	levelMedium
	levelHigh
)

var levelNames = [...]string{"", "low", "medium", "high"}

var countryRisks = [...]countryRisk{
	{0, 0, "DEU", levelHigh, 0},
	{0, 0, "ITA", levelHigh, 0},
	{0, 0, "ESP", levelHigh, 0},
	{0, 0, "IRN", levelHigh, 0},
	{0, 0, "FRA", levelMedium, 0},
	{0, 0, "GBR", levelMedium, 0},
	{0, 0, "USA", levelMedium, 0},
	{0, 0, "KOR", levelMedium, 0},
	{0, 0, "JPN", levelLow, 30},
	{3, 10 * 3600, "USA", levelHigh, 0},
	{5, 9 * 3600, "KOR", levelLow, 0},
}
