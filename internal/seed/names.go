package seed

import (
	"fmt"
	"strings"
)

// cityInfo is a real Iranian city with its Persian name and province.
type cityInfo struct{ slug, name, nameFa, province string }

// cities are ordered roughly by population; earlier cities get more salons.
var cities = []cityInfo{
	{"tehran", "Tehran", "تهران", "Tehran"},
	{"mashhad", "Mashhad", "مشهد", "Razavi Khorasan"},
	{"isfahan", "Isfahan", "اصفهان", "Isfahan"},
	{"karaj", "Karaj", "کرج", "Alborz"},
	{"shiraz", "Shiraz", "شیراز", "Fars"},
	{"tabriz", "Tabriz", "تبریز", "East Azerbaijan"},
	{"qom", "Qom", "قم", "Qom"},
	{"ahvaz", "Ahvaz", "اهواز", "Khuzestan"},
	{"kermanshah", "Kermanshah", "کرمانشاه", "Kermanshah"},
	{"urmia", "Urmia", "ارومیه", "West Azerbaijan"},
	{"rasht", "Rasht", "رشت", "Gilan"},
	{"zahedan", "Zahedan", "زاهدان", "Sistan and Baluchestan"},
	{"hamadan", "Hamadan", "همدان", "Hamadan"},
	{"kerman", "Kerman", "کرمان", "Kerman"},
	{"yazd", "Yazd", "یزد", "Yazd"},
	{"ardabil", "Ardabil", "اردبیل", "Ardabil"},
	{"bandar-abbas", "Bandar Abbas", "بندرعباس", "Hormozgan"},
	{"arak", "Arak", "اراک", "Markazi"},
	{"zanjan", "Zanjan", "زنجان", "Zanjan"},
	{"sanandaj", "Sanandaj", "سنندج", "Kurdistan"},
	{"qazvin", "Qazvin", "قزوین", "Qazvin"},
	{"khorramabad", "Khorramabad", "خرم‌آباد", "Lorestan"},
	{"gorgan", "Gorgan", "گرگان", "Golestan"},
	{"sari", "Sari", "ساری", "Mazandaran"},
	{"kashan", "Kashan", "کاشان", "Isfahan"},
	{"bushehr", "Bushehr", "بوشهر", "Bushehr"},
	{"birjand", "Birjand", "بیرجند", "South Khorasan"},
	{"semnan", "Semnan", "سمنان", "Semnan"},
	{"ilam", "Ilam", "ایلام", "Ilam"},
	{"yasuj", "Yasuj", "یاسوج", "Kohgiluyeh and Boyer-Ahmad"},
}

// word is one naming element in English and Persian.
type word struct{ en, fa string }

var salonStems = []word{
	{"Rose", "رز"}, {"Golden Rose", "رز طلایی"}, {"Yas", "یاس"}, {"Nilufar", "نیلوفر"}, {"Maryam", "مریم"},
	{"Shirin", "شیرین"}, {"Parmis", "پارمیس"}, {"Mahtab", "مهتاب"}, {"Setareh", "ستاره"}, {"Baran", "باران"},
	{"Negin", "نگین"}, {"Sepideh", "سپیده"}, {"Tara", "تارا"}, {"Aria", "آریا"}, {"Pardis", "پردیس"},
	{"Simorgh", "سیمرغ"}, {"Golnar", "گلنار"}, {"Atlas", "اطلس"}, {"Mehr", "مهر"}, {"Nava", "نوا"},
	{"Silk", "ابریشم"}, {"Pearl", "مروارید"}, {"Diamond", "الماس"}, {"Lotus", "نیلوفر آبی"}, {"Violet", "بنفشه"},
	{"Tulip", "لاله"}, {"Jasmine", "یاسمن"}, {"Sahar", "سحر"}, {"Ava", "آوا"}, {"Darya", "دریا"},
}

var salonKinds = []word{
	{"Beauty Salon", "سالن زیبایی"}, {"Hair Studio", "استودیو مو"}, {"Bridal House", "مزون عروس"},
	{"Nail Bar", "سالن ناخن"}, {"Skin Clinic", "کلینیک پوست"}, {"Barbershop", "آرایشگاه مردانه"},
	{"Makeup Atelier", "آتلیه میکاپ"}, {"Spa", "اسپا"},
}

var reviewBodies = []string{
	"Great service and friendly staff.",
	"Clean place, fair prices, I will come back.",
	"The color came out exactly as I wanted.",
	"Had to wait 30 minutes despite my appointment.",
	"Best bridal makeup in town!",
	"Okay, nothing special.",
	"Too expensive for what you get.",
	"خیلی عالی بود، حتما دوباره میام.",
	"پرسنل مودب و محیط تمیز.",
	"رنگ مو دقیقا همون چیزی شد که می‌خواستم.",
	"نوبت‌دهی منظم نبود.",
	"قیمت‌ها کمی بالاست ولی کیفیت خوبه.",
	"",
}

var postTopics = []word{
	{"Best salons in %s", "بهترین سالن‌های %s"},
	{"Bridal makeup trends in %s", "ترندهای میکاپ عروس در %s"},
	{"Affordable haircuts in %s", "کوتاهی موی مقرون‌به‌صرفه در %s"},
	{"Skin care clinics worth visiting in %s", "کلینیک‌های پوست %s"},
	{"Nail art studios of %s", "سالن‌های ناخن %s"},
	{"How to choose a hair colorist in %s", "انتخاب رنگ‌کار مو در %s"},
}

// slugify lowercases s and joins its ASCII letters and digits with dashes.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// cityAt returns the i-th seeded city: the real list first, then districts
// of the larger cities ("Tehran District 2").
func cityAt(i int) cityInfo {
	c := cities[i%len(cities)]
	if round := i / len(cities); round > 0 {
		n := round + 1
		c.slug = fmt.Sprintf("%s-district-%d", c.slug, n)
		c.name = fmt.Sprintf("%s District %d", c.name, n)
		c.nameFa = fmt.Sprintf("%s منطقه %d", c.nameFa, n)
	}
	return c
}

// streets are Persian street names for the demo addresses.
var streets = []string{"خیابان ولیعصر", "خیابان انقلاب", "بلوار کشاورز", "خیابان شریعتی", "خیابان آزادی",
	"بلوار فردوسی", "خیابان حافظ", "خیابان سعدی", "بلوار امام رضا", "خیابان مطهری", "خیابان بهار", "بلوار ارم"}

// address is salon id's street address, "<street>، پلاک <n>": a function
// of the id alone, so it draws nothing from the seed's random stream.
func address(id int64) string {
	return fmt.Sprintf("%s، پلاک %d", streets[id%int64(len(streets))], 1+(id*37)%180)
}
